"""Every model module, imported so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.areas import models as areas_models  # noqa: F401
from app.audit import models as audit_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.playout import models as playout_models  # noqa: F401
from app.db import Base

__all__ = ["Base"]
