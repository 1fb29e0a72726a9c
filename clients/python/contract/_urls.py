"""The contract app's Django URLconf (ROOT_URLCONF of django_app)."""

from django_app import urlpatterns as _patterns

urlpatterns = _patterns()
