"""Staff admin for branches, staff, customers and solidarity groups: find a customer by number, name,
national ID or phone; see their loans, savings accounts and fixed deposits on one page."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils import timezone

from core.admin_tools import (
    BranchScopedAdminMixin,
    Operation,
    OperationForm,
    OperationsAdminMixin,
    ReadOnlyTabularInline,
    SoftDeleteAdminMixin,
    SoftDeletedFilter,
    StaffListFilter,
    format_money,
)
from core.exceptions import BusinessError
from customers import services
from customers.models import Branch, Customer, GroupMembership, SolidarityGroup, Staff
from investments.models import Investment, InvestmentProduct
from loans.models import Loan, LoanProduct
from payments.models import Payment
from savings.models import SavingsAccount, SavingsProduct


@admin.register(Branch)
class BranchAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "region", "opened_on"]
    list_filter = ["region"]
    search_fields = ["code", "name", "region"]


class StaffHireForm(forms.ModelForm):
    """Hiring: the user and the staff record are created together by customers.services.staff_create."""

    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)

    class Meta:
        model = Staff
        fields = ["role", "branch", "hired_on", "employee_number"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["employee_number"].required = False
        self.fields["employee_number"].help_text = "generated when left empty"


@admin.register(Staff)
class StaffAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["employee_number", "name", "role", "branch", "hired_on", "left_on"]
    list_filter = ["role", "branch"]
    list_select_related = ["user", "branch"]
    search_fields = ["employee_number", "user__first_name", "user__last_name", "user__username"]
    autocomplete_fields = ["branch"]
    raw_id_fields = ["user"]
    add_fieldsets = [(None, {"fields": ["username", "first_name", "last_name", "email", "role", "branch",
                                        "hired_on", "employee_number"]})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StaffHireForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ["user"] if obj is not None else []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except BusinessError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj: Staff, form, change: bool) -> None:
        from access.scope import staff_change_refusal

        data = form.cleaned_data
        refusal = staff_change_refusal(request.user, role=data.get("role", obj.role),
                                       branch_id=getattr(data.get("branch"), "pk", obj.branch_id),
                                       target=obj if change else None)
        if refusal:
            raise BusinessError(f"staff {obj.employee_number or data.get('username')} refused: {refusal}")
        if change:
            super().save_model(request, obj, form, change)
            return
        hired = services.staff_create(
            username=data["username"], first_name=data["first_name"], last_name=data["last_name"],
            email=data["email"] or "", role=data["role"], branch=data["branch"], hired_on=data["hired_on"],
            employee_number=data["employee_number"] or None,
        )
        obj.__dict__.update({k: v for k, v in hired.__dict__.items() if k != "_state"})
        obj._state.adding = False

    @admin.display(description="name", ordering="user__last_name")
    def name(self, obj: Staff) -> str:
        return obj.user.get_full_name() or obj.user.get_username()


class CustomerLoanInline(ReadOnlyTabularInline):
    model = Loan
    fk_name = "customer"
    fields = ["loan_number", "product", "status", "applied_on", "disbursed_on", "amount", "outstanding"]
    readonly_fields = fields
    ordering = ["-applied_on"]
    verbose_name_plural = "loans"
    select_related_fields = ("product",)

    @admin.display(description="disbursed")
    def amount(self, obj: Loan) -> str:
        return format_money(obj.amount_disbursed if obj.amount_disbursed is not None else obj.amount_applied)

    @admin.display(description="principal outstanding")
    def outstanding(self, obj: Loan) -> str:
        return format_money(obj.principal_outstanding)


class CustomerSavingsInline(ReadOnlyTabularInline):
    model = SavingsAccount
    fields = ["account_number", "product", "status", "opened_on", "closed_on", "balance_display"]
    readonly_fields = fields
    verbose_name_plural = "savings accounts"
    select_related_fields = ("product",)

    @admin.display(description="balance")
    def balance_display(self, obj: SavingsAccount) -> str:
        return format_money(obj.balance)


class CustomerInvestmentInline(ReadOnlyTabularInline):
    model = Investment
    fields = ["investment_number", "product", "status", "start_on", "maturity_on", "principal_display"]
    readonly_fields = fields
    verbose_name_plural = "fixed deposits"
    select_related_fields = ("product",)

    @admin.display(description="principal")
    def principal_display(self, obj: Investment) -> str:
        return format_money(obj.principal)


class CustomerMembershipInline(ReadOnlyTabularInline):
    model = GroupMembership
    fields = ["group", "role", "joined_on", "left_on"]
    readonly_fields = fields
    verbose_name_plural = "group memberships"
    select_related_fields = ("group",)


class LoanApplyForm(OperationForm):
    product = forms.ModelChoiceField(LoanProduct.objects.filter(is_active=True))
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    term = forms.IntegerField(min_value=1, help_text="number of installments")
    purpose = forms.CharField(max_length=50)
    group = forms.ModelChoiceField(SolidarityGroup.objects.none(), required=False,
                                   help_text="the customer's solidarity group, for a group product")
    on = forms.DateField(initial=timezone.localdate)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = SolidarityGroup.objects.filter(
            memberships__customer=self.obj, memberships__left_on__isnull=True)


class AccountOpenForm(OperationForm):
    product = forms.ModelChoiceField(SavingsProduct.objects.filter(is_active=True))
    on = forms.DateField(initial=timezone.localdate)


class InvestmentPlaceForm(OperationForm):
    product = forms.ModelChoiceField(InvestmentProduct.objects.filter(is_active=True))
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    on = forms.DateField(initial=timezone.localdate)
    channel = forms.ChoiceField(choices=Payment.Channel.choices, initial=Payment.Channel.CASH)
    funding_account = forms.ModelChoiceField(SavingsAccount.objects.none(), required=False,
                                             help_text="fund it from this savings account, not a payment")
    payout_account = forms.ModelChoiceField(SavingsAccount.objects.none(), required=False,
                                            help_text="pay earnings and the redemption into this account")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = SavingsAccount.objects.filter(customer=self.obj).exclude(
            status=SavingsAccount.Status.CLOSED)
        self.fields["funding_account"].queryset = accounts
        self.fields["payout_account"].queryset = accounts


def _loan_apply(customer: Customer, data: dict, user) -> str:
    from loans.services import loan_apply

    loan = loan_apply(customer=customer, product=data["product"], amount=data["amount"], term=data["term"],
                      purpose=data["purpose"], group=data["group"], on=data["on"])
    return f"Loan {loan} applied for; approve it on its page."


def _account_open(customer: Customer, data: dict, user) -> str:
    from savings.services import account_open

    account = account_open(customer=customer, product=data["product"], on=data["on"])
    return f"Savings account {account} opened."


def _investment_place(customer: Customer, data: dict, user) -> str:
    from investments.services import investment_place

    investment = investment_place(customer=customer, product=data["product"], amount=data["amount"],
                                  on=data["on"], channel=data["channel"],
                                  funding_account=data["funding_account"],
                                  payout_account=data["payout_account"])
    return f"Fixed deposit {investment} placed."


def _is_current(customer: Customer) -> bool:
    return customer.deleted_at is None and customer.status != Customer.Status.EXITED


def _kyc_verify_request(customer: Customer, data: dict, user) -> str:
    from access.services import approval_request

    request = approval_request(operation="customer.kyc_verify", target=customer, params={},
                               summary=f"verify KYC of {customer.customer_number}")
    return f"KYC verification of {customer} requested (#{request.pk}): another branch manager approves it."


class CustomerForm(forms.ModelForm):
    """The customer page's form. A national ID held by another customer (deleted ones too) is refused in
    the service's words, which say neither whose it is nor that it is registered (customers.services)."""

    def clean_national_id(self) -> str:
        value = self.cleaned_data["national_id"]
        if Customer.all_objects.filter(national_id=value).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(services.NATIONAL_ID_REFUSED)
        return value


@admin.register(Customer)
class CustomerAdmin(BranchScopedAdminMixin, SoftDeleteAdminMixin, OperationsAdminMixin, admin.ModelAdmin):
    form = CustomerForm
    list_display = ["customer_number", "first_name", "last_name", "branch", "loan_officer", "status",
                    "kyc_status", "joined_on"]
    list_filter = [SoftDeletedFilter, "status", "kyc_status", "gender", "branch",
                   ("loan_officer", StaffListFilter)]
    list_select_related = ["branch", "loan_officer__user"]
    search_fields = ["customer_number", "first_name", "last_name", "=national_id", "phone"]
    autocomplete_fields = ["branch", "loan_officer"]
    date_hierarchy = "joined_on"
    show_full_result_count = False
    readonly_fields = ["public_id", "created_at", "updated_at", "deleted_at"]
    inlines = [CustomerLoanInline, CustomerSavingsInline, CustomerInvestmentInline, CustomerMembershipInline]
    fieldsets = [
        (None, {"fields": ["customer_number", "public_id", ("first_name", "last_name"), "gender",
                           "date_of_birth", "business_sector"]}),
        ("Identity and contact (PII)", {"fields": ["national_id", "phone", "kyc_status"]}),
        ("Relationship", {"fields": ["branch", "loan_officer", "status", "joined_on"]}),
        ("Record", {"fields": ["created_at", "updated_at", "deleted_at"], "classes": ["collapse"]}),
    ]
    actions = ["soft_delete_selected", "restore_selected"]
    operations = (
        Operation("apply-loan", "Apply for a loan", LoanApplyForm, _loan_apply, _is_current,
                  permission="loan.apply"),
        Operation("open-account", "Open a savings account", AccountOpenForm, _account_open, _is_current,
                  permission="savings.open"),
        Operation("place-fixed-deposit", "Place a fixed deposit", InvestmentPlaceForm, _investment_place,
                  _is_current, permission="investment.place"),
        Operation("verify-kyc", "Request KYC verification", OperationForm, _kyc_verify_request,
                  lambda c: c.kyc_status != Customer.KycStatus.VERIFIED and c.deleted_at is None,
                  permission="customer.kyc_verify"),
    )

    def get_readonly_fields(self, request, obj=None):
        # The number is given by customer_create on registration and never changes; KYC is verified
        # through maker-checker ("Request KYC verification"), never by editing the field.
        return [*self.readonly_fields, "customer_number", "kyc_status"]

    def has_soft_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("customer.delete", obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except BusinessError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj: Customer, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Registration goes through the service: it numbers the customer and checks age, national ID
        # and the officer's branch.
        data = form.cleaned_data
        created = services.customer_create(
            first_name=data["first_name"], last_name=data["last_name"], gender=data["gender"],
            date_of_birth=data["date_of_birth"], national_id=data["national_id"], phone=data["phone"],
            branch=data["branch"], business_sector=data["business_sector"], loan_officer=data["loan_officer"],
            joined_on=data["joined_on"],
        )
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})
        obj._state.adding = False

    @admin.action(description="Delete the selected customers (soft: kept)", permissions=["soft_delete"])
    def soft_delete_selected(self, request, queryset) -> None:
        deleted = 0
        for customer in queryset.filter(deleted_at__isnull=True):
            try:
                services.customer_delete(customer=customer)
            except BusinessError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                deleted += 1
        if deleted:
            self.message_user(request, f"{deleted} customer(s) deleted.", messages.SUCCESS)


class MembershipInline(ReadOnlyTabularInline):
    """Members join and leave through the buttons (customers.services), which check the branch and that
    a customer stands in one group at a time."""

    model = GroupMembership
    fields = ["customer", "role", "joined_on", "left_on"]
    readonly_fields = fields
    select_related_fields = ("customer",)


class MemberForm(OperationForm):
    customer_number = forms.CharField(max_length=20)
    on = forms.DateField(initial=timezone.localdate)

    def clean_customer_number(self) -> Customer:
        number = self.cleaned_data["customer_number"].strip()
        try:
            return Customer.objects.get(customer_number__iexact=number)
        except Customer.DoesNotExist:
            raise forms.ValidationError(f"no customer {number}") from None


class MemberAddForm(MemberForm):
    role = forms.ChoiceField(choices=GroupMembership.Role.choices, initial=GroupMembership.Role.MEMBER)


def _member_add(group: SolidarityGroup, data: dict, user) -> str:
    customer = data["customer_number"]
    services.group_member_add(group=group, customer=customer, role=data["role"], on=data["on"])
    return f"{customer} joined {group}."


def _member_remove(group: SolidarityGroup, data: dict, user) -> str:
    customer = data["customer_number"]
    services.group_member_remove(group=group, customer=customer, on=data["on"])
    return f"{customer} left {group}."


@admin.register(SolidarityGroup)
class SolidarityGroupAdmin(BranchScopedAdminMixin, OperationsAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "branch", "loan_officer", "meeting_day", "formed_on"]
    list_filter = ["branch", ("loan_officer", StaffListFilter), "meeting_day"]
    list_select_related = ["branch", "loan_officer__user"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["branch", "loan_officer"]
    inlines = [MembershipInline]
    operations = (
        Operation("add-member", "Add a member", MemberAddForm, _member_add, permission="group.manage"),
        Operation("remove-member", "Remove a member", MemberForm, _member_remove, permission="group.manage"),
    )


@admin.register(GroupMembership)
class GroupMembershipAdmin(BranchScopedAdminMixin, SoftDeleteAdminMixin, admin.ModelAdmin):
    list_display = ["group", "customer", "role", "joined_on", "left_on"]
    list_filter = [SoftDeletedFilter, "role", "group__branch"]
    list_select_related = ["group", "customer"]
    search_fields = ["group__code", "group__name", "customer__customer_number", "customer__last_name"]
    autocomplete_fields = ["group", "customer"]
    show_full_result_count = False
