"""Every model module, imported so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.announcements import models as announcements_models  # noqa: F401
from app.areas import models as areas_models  # noqa: F401
from app.audit import models as audit_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.broadcasts import models as broadcasts_models  # noqa: F401
from app.daytypes import models as daytypes_models  # noqa: F401
from app.db import Base
from app.feeds import models as feeds_models  # noqa: F401
from app.maintenance import models as maintenance_models  # noqa: F401
from app.media import models as media_models  # noqa: F401
from app.playlists import models as playlists_models  # noqa: F401
from app.playout import models as playout_models  # noqa: F401
from app.playout import receipts_models  # noqa: F401
from app.pronunciations import models as pronunciations_models  # noqa: F401
from app.schedules import models as schedules_models  # noqa: F401
from app.speakers import models as speakers_models  # noqa: F401

__all__ = ["Base"]
