"""URLs: the staff admin at /admin/, the REST API at /api/ (schema and docs under /api/schema/)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "finhouse core banking"
admin.site.site_title = "finhouse"
admin.site.index_title = "Branch operations"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
]
