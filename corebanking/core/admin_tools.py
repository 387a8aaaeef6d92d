"""Building blocks the staff admin of every app shares: amounts shown with the currency, read-only
admins for posted rows, soft-deleted rows behind a filter, and business operations as buttons that call
a service and show its BusinessError as an admin error message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.exceptions import BusinessError
from core.models import MoneyField


def format_money(amount: Decimal | None) -> str:
    """`1,234.50 KES`; an em dash for no amount."""
    if amount is None:
        return "—"
    return f"{amount:,.2f} {settings.FINHOUSE_CURRENCY}"


def money(field: str, description: str | None = None, ordering: str | None = None) -> Callable:
    """A list_display / readonly_fields column showing `field` with the currency."""

    def column(obj: Any) -> str:
        return format_money(getattr(obj, field))

    column.short_description = description or field.replace("_", " ")  # type: ignore[attr-defined]
    column.admin_order_field = ordering or field  # type: ignore[attr-defined]
    column.__name__ = f"{field}_money"
    return column


def rate(field: str, description: str | None = None) -> Callable:
    """A list_display / readonly_fields column showing a RateField fraction as a percentage."""

    def column(obj: Any) -> str:
        value = getattr(obj, field)
        return "—" if value is None else f"{value * 100:.2f} %"

    column.short_description = description or field.replace("_", " ")  # type: ignore[attr-defined]
    column.admin_order_field = field  # type: ignore[attr-defined]
    column.__name__ = f"{field}_rate"
    return column


def html_table(headers: list[str], rows: list[list[Any]], empty: str = "none") -> str:
    """A small read-only table for a change page (values are escaped)."""
    if not rows:
        return empty
    head = "".join(format_html("<th>{}</th>", h) for h in headers)
    body = "".join(
        "<tr>" + "".join(format_html("<td>{}</td>", "—" if v is None else v) for v in row) + "</tr>"
        for row in rows
    )
    # head and body are joined from format_html() pieces, so everything in them is already escaped.
    return format_html('<table class="finhouse-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
                       mark_safe(head), mark_safe(body))


MONEY_SUFFIX = "__money"


class MoneyDisplayMixin:
    """For an admin or inline whose fields are all read-only: its money fields (MoneyField) are shown
    with the currency, through `<field>__money` columns made on demand."""

    def _with_money(self, names) -> list:
        money_fields = {f.name for f in self.model._meta.fields if isinstance(f, MoneyField)}
        return [f"{n}{MONEY_SUFFIX}" if isinstance(n, str) and n in money_fields else n for n in names]

    def get_fields(self, request: HttpRequest, obj: Any = None):
        # Django lists a form field and then the read-only ones; a money field turns up in both, so the
        # last occurrence (in the declared order of the read-only fields) is kept.
        shown = self._with_money(super().get_fields(request, obj))
        return list(reversed(dict.fromkeys(reversed(shown))))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return self._with_money(super().get_readonly_fields(request, obj))

    def __getattr__(self, name: str):
        if name.endswith(MONEY_SUFFIX):
            field = self.model._meta.get_field(name.removesuffix(MONEY_SUFFIX))
            return money(field.name, str(field.verbose_name))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class ReadOnlyAdminMixin(MoneyDisplayMixin):
    """For posted rows (journal, savings transactions, repayments, payments): they are corrected by a
    reversing operation, never edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A read-only inline. `select_related_fields` names the relations its rows show (a product, a
    payment…), loaded with the rows in one query instead of one query per row."""

    extra = 0
    can_delete = False
    show_change_link = True
    select_related_fields: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        if self.select_related_fields:
            queryset = queryset.select_related(*self.select_related_fields)
        return queryset


class StaffListFilter(admin.RelatedFieldListFilter):
    """A filter by a staff foreign key (officer) whose choices load the staff with their users in one
    query: Staff.__str__ reads the user, which would otherwise cost a query per staff member."""

    def field_choices(self, field, request, model_admin):
        from customers.models import Staff

        return [(s.pk, str(s)) for s in Staff.objects.select_related("user").order_by("employee_number")]


class SoftDeletedFilter(admin.SimpleListFilter):
    """Soft-deleted rows are hidden unless the admin asks for them."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Deleted only"), ("all", "All, including deleted")]

    def choices(self, changelist: Any):
        # Replace the default "All" label: without a choice the list shows the rows that are not deleted.
        for choice in super().choices(changelist):
            if choice["display"] == "All":
                choice["display"] = "Not deleted"
            yield choice

    def queryset(self, request: HttpRequest, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class SoftDeleteAdminMixin:
    """Admin of a SoftDeleteModel: sees deleted rows through `all_objects` (behind SoftDeletedFilter),
    and "deletes" by setting deleted_at, so the deletion reaches the warehouse."""

    actions = ["soft_delete_selected", "restore_selected"]

    def get_queryset(self, request: HttpRequest):
        qs = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Mark the selected rows deleted", permissions=["change"])
    def soft_delete_selected(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(deleted_at__isnull=True).update(deleted_at=timezone.now())
        self.message_user(request, f"{count} row(s) marked deleted.", messages.SUCCESS)

    @admin.action(description="Restore the selected deleted rows", permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(deleted_at__isnull=False).update(deleted_at=None)
        self.message_user(request, f"{count} row(s) restored.", messages.SUCCESS)


class OperationForm(forms.Form):
    """The form of an operation; `obj` is the object it runs on (to narrow choices to it)."""

    def __init__(self, *args: Any, obj: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.obj = obj


@dataclass(frozen=True)
class Operation:
    """A business operation on one object, offered as a button on its change page.

    `permission` is the operation's code in access.policy (e.g. "loan.disburse"): the button shows, and
    the operation runs, only for a user whose role holds it for this object's branch. `run(obj, data,
    user)` calls the service with the form's cleaned data and returns a message for the staff member;
    `available(obj)` says whether the button is shown (the service still decides)."""

    name: str
    label: str
    form: type[OperationForm]
    run: Callable[[Any, dict, Any], str]
    available: Callable[[Any], bool] = lambda obj: True
    permission: str = ""
    # When the permission depends on the object (deciding a maker-checker request needs the checker
    # permission of the request's own operation): its code for `obj`, used instead of `permission`.
    permission_of: Callable[[Any], str] | None = None

    def permission_for(self, obj: Any) -> str:
        return self.permission_of(obj) if self.permission_of else self.permission

    def __post_init__(self) -> None:
        from access.policy import BY_CODE

        assert self.permission in BY_CODE, f"admin operation {self.name!r}: unknown permission"


class BranchScopedAdminMixin:
    """Every admin's rows narrowed to the user's branch (access.scope): changelists, change pages,
    autocompletes and actions alike. Head office and superusers see every branch."""

    def get_queryset(self, request: HttpRequest):
        from access.scope import scope_queryset

        return scope_queryset(super().get_queryset(request), request.user)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        # A branch, officer, customer or account chosen in a form: only the user's own branch's.
        from access.scope import scope_queryset

        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and getattr(field, "queryset", None) is not None:
            field.queryset = scope_queryset(field.queryset, request.user, acting=True)
        return field


class OperationsAdminMixin:
    """Adds `<pk>/operation/<name>/` views for the admin's `operations` and their buttons."""

    operations: tuple[Operation, ...] = ()
    change_form_template = "admin/finhouse/change_form_operations.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        custom = [
            path(
                "<path:object_id>/operation/<str:operation>/",
                self.admin_site.admin_view(self.operation_view),
                name="{}_{}_operation".format(*info),
            )
        ]
        return custom + super().get_urls()

    def _operation(self, name: str) -> Operation:
        for op in self.operations:
            if op.name == name:
                return op
        raise Http404(f"no operation {name!r}")

    def operation_buttons(self, obj: Any, user: Any) -> list[tuple[str, str]]:
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            (op.label, reverse("admin:{}_{}_operation".format(*info), args=[obj.pk, op.name]))
            for op in self.operations
            if op.available(obj) and user.has_perm(op.permission_for(obj), obj)
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["operation_buttons"] = self.operation_buttons(obj, request.user)
        return super().change_view(request, object_id, form_url, extra_context)

    def operation_view(self, request: HttpRequest, object_id: str, operation: str) -> HttpResponse:
        op = self._operation(operation)
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        # The operation's own permission (access.policy), for this object's branch; get_queryset has
        # already narrowed to the user's branch, so another branch's object is a 404 above.
        opts = self.model._meta
        if not request.user.has_perm(op.permission_for(obj), obj):
            raise PermissionDenied
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        form = op.form(request.POST or None, obj=obj)
        if request.method == "POST" and form.is_valid():
            try:
                message = op.run(obj, form.cleaned_data, request.user)
            except BusinessError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{op.label}: {obj}",
            "opts": opts,
            "original": obj,
            "form": form,
            "operation": op,
            "change_url": change_url,
            "currency": settings.FINHOUSE_CURRENCY,
        }
        return TemplateResponse(request, "admin/finhouse/operation_form.html", context)
