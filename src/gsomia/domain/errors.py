"""Errors raised by the pure domain.

    DomainError              bad input the domain cannot interpret (a 4xx / exit code 2 at the edges)
    ├── UnknownParty         a party code no scheme is known for
    ├── UnknownClassification a marking that is not in the party's scheme
    └── UnknownAgreement     an agreement id that the catalogue does not hold

A *refused* request is never an exception: it is a Decision with allowed=False.
"""


class DomainError(ValueError):
    """Input the domain cannot interpret; the message names the problem."""


class UnknownParty(DomainError):
    pass


class UnknownClassification(DomainError):
    pass


class UnknownAgreement(DomainError):
    pass
