"""The one error type services raise for an operation the institution's rules refuse."""


class BusinessError(Exception):
    """An operation refused by a business rule; the message says what and why, for staff and API users."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
