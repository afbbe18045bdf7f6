"""Every model module, so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.announcements import models as announcements_models
from app.areas import models as areas_models
from app.audit import models as audit_models
from app.broadcasts import models as broadcasts_models
from app.daytypes import models as daytypes_models
from app.db import Base
from app.feeds import models as feeds_models
from app.maintenance import models as maintenance_models
from app.media import models as media_models
from app.playlists import models as playlists_models
from app.playout import models as playout_models
from app.playout import receipts_models
from app.pronunciations import models as pronunciations_models
from app.runtime import models as runtime_models
from app.schedules import models as schedules_models
from app.speakers import models as speakers_models
from app.users import models as auth_models

__all__ = ["Base", "MODEL_MODULES"]

# Their tables are Base.metadata's.
MODEL_MODULES = (
    announcements_models, areas_models, audit_models, auth_models, broadcasts_models,
    daytypes_models, feeds_models, maintenance_models, media_models, playlists_models,
    playout_models, receipts_models, pronunciations_models, runtime_models, schedules_models,
    speakers_models,
)
