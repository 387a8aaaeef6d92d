"""The REST API: read endpoints for every entity (paginated, filterable, orderable, searchable), one
endpoint per business operation, and the OpenAPI schema with its Swagger UI. Every endpoint requires
authentication (settings.REST_FRAMEWORK and SPECTACULAR_SETTINGS)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api import approvals, audit, auth, customers, investments, ledger, loans, payments, savings

router = DefaultRouter()
# by entity group (the Django apps, as in ingest/registry.tsv); the paths are the API's published names
# customers
router.register("branches", customers.BranchViewSet)
router.register("staff", customers.StaffViewSet)
router.register("customers", customers.CustomerViewSet)
router.register("groups", customers.SolidarityGroupViewSet)
router.register("group-memberships", customers.GroupMembershipViewSet)
# savings
router.register("savings-products", savings.SavingsProductViewSet)
router.register("accounts", savings.SavingsAccountViewSet)
# loans
router.register("loan-products", loans.LoanProductViewSet)
router.register("loans", loans.LoanViewSet)
router.register("installments", loans.InstallmentViewSet)
router.register("repayments", loans.RepaymentViewSet)
router.register("repayment-allocations", loans.RepaymentAllocationViewSet)
router.register("collateral", loans.CollateralViewSet)
router.register("restructures", loans.RestructureViewSet)
router.register("write-offs", loans.WriteOffViewSet)
router.register("recoveries", loans.RecoveryViewSet)
router.register("loan-loss-provisions", loans.LoanLossProvisionViewSet)
# payments
router.register("payments", payments.PaymentViewSet)
# ledger
router.register("transaction-types", ledger.TransactionTypeViewSet)
router.register("savings-transactions", ledger.SavingsTransactionViewSet)
router.register("transfers", ledger.TransferViewSet)
router.register("gl-accounts", ledger.GLAccountViewSet)
router.register("journal-entries", ledger.JournalEntryViewSet)
router.register("journal-lines", ledger.JournalLineViewSet)
router.register("period-closes", ledger.PeriodCloseViewSet)
# investments
router.register("investment-products", investments.InvestmentProductViewSet)
router.register("investments", investments.InvestmentViewSet)
router.register("investment-earnings", investments.InvestmentEarningViewSet)
# maker-checker
router.register("approval-requests", approvals.ApprovalRequestViewSet)
# audit trail (read-only, for auditors)
router.register("audit-log", audit.AuditLogEntryViewSet)

operations = [
    path("loans/<int:pk>/approve/", loans.LoanApproveApi.as_view(), name="loan-approve"),
    path("loans/<int:pk>/reject/", loans.LoanRejectApi.as_view(), name="loan-reject"),
    path("loans/<int:pk>/disburse/", loans.LoanDisburseApi.as_view(), name="loan-disburse"),
    path("loans/<int:pk>/repayments/", loans.RepaymentPostApi.as_view(), name="loan-repay"),
    path("loans/<int:pk>/restructure/", loans.LoanRestructureApi.as_view(), name="loan-restructure"),
    path("loans/<int:pk>/write-off/", loans.LoanWriteOffApi.as_view(), name="loan-write-off"),
    path("loans/<int:pk>/recoveries/", loans.RecoveryPostApi.as_view(), name="loan-recover"),
    path("accounts/<int:pk>/deposit/", savings.AccountDepositApi.as_view(), name="account-deposit"),
    path("accounts/<int:pk>/withdraw/", savings.AccountWithdrawApi.as_view(), name="account-withdraw"),
    path("accounts/<int:pk>/close/", savings.AccountCloseApi.as_view(), name="account-close"),
    path("investments/<int:pk>/redeem/", investments.InvestmentRedeemApi.as_view(), name="investment-redeem"),
    path("customers/<int:pk>/verify-kyc/", customers.CustomerKycVerifyApi.as_view(),
         name="customer-verify-kyc"),
    path("savings-transactions/<int:pk>/reverse/", ledger.SavingsTransactionReverseApi.as_view(),
         name="savings-transaction-reverse"),
    path("journal-entries/<int:pk>/reverse/", ledger.JournalEntryReverseApi.as_view(),
         name="journal-entry-reverse"),
    path("approval-requests/<int:pk>/approve/", approvals.ApprovalApproveApi.as_view(),
         name="approval-approve"),
    path("approval-requests/<int:pk>/reject/", approvals.ApprovalRejectApi.as_view(), name="approval-reject"),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("auth/token/", auth.TokenApi.as_view(), name="auth-token"),
    *operations,
    path("", include(router.urls)),
]
