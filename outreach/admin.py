"""Django's admin autodiscovery loads this module: it loads each part's admin registrations."""

from outreach.mail import admin as mail_admin  # noqa: F401
from outreach.people import admin as people_admin  # noqa: F401
from outreach.suppression import admin as suppression_admin  # noqa: F401
