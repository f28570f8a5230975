"""A 403 is recognised however the SDK wraps it (review-aml finding 7).

azure-ai-ml raises a ValidationException `from` the storage HttpResponseError when an asset upload
meets AuthorizationPermissionMismatch (azure/ai/ml/_artifacts/_blob_storage_helper.py), so the
role-propagation retry (stackctl.aml.azure.retry_while_roles_propagate) walks __cause__/__context__.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from stackctl.aml.azure import is_authorization_failure, retry_while_roles_propagate

if TYPE_CHECKING:  # azure-ai-ml is imported by the tests themselves: collection must not pay for it
    from azure.ai.ml.exceptions import ValidationException


def _http(status: int, message: str = "AuthorizationPermissionMismatch") -> HttpResponseError:
    error = HttpResponseError(message=message)
    error.status_code = status
    return error


def _wrapped_by_ai_ml(inner: BaseException) -> ValidationException:
    from azure.ai.ml.exceptions import ErrorCategory, ErrorTarget, ValidationException

    try:
        try:
            raise inner
        except Exception as exc:
            msg = "You don't have permission to alter this storage account."
            raise ValidationException(
                message=msg,
                no_personal_data_message=msg,
                target=ErrorTarget.ARTIFACT,
                error_category=ErrorCategory.USER_ERROR,
            ) from exc
    except ValidationException as wrapped:
        return wrapped


def _implicit_context(inner: BaseException) -> RuntimeError:
    try:
        try:
            raise inner
        except Exception:
            raise RuntimeError("upload failed")  # noqa: B904 -- the implicit __context__ is the case
    except RuntimeError as wrapped:
        return wrapped


def _twice(inner: BaseException) -> ValidationException:
    return _wrapped_by_ai_ml(_wrapped_by_ai_ml(inner))


@pytest.mark.parametrize("wrap", [_wrapped_by_ai_ml, _implicit_context, _twice])
def test_a_wrapped_403_is_an_authorization_failure(wrap: object) -> None:
    assert is_authorization_failure(wrap(_http(403)))  # type: ignore[operator]


def _plain_validation_error() -> BaseException:
    from azure.ai.ml.exceptions import ValidationException

    return ValidationException(message="bad yaml", no_personal_data_message="bad yaml")


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: _wrapped_by_ai_ml(_http(404, "BlobNotFound")),
        lambda: _wrapped_by_ai_ml(ClientAuthenticationError("401")),
        _plain_validation_error,
    ],
)
def test_other_wrapped_errors_are_not(make_error: object) -> None:
    assert not is_authorization_failure(make_error())  # type: ignore[operator]


def test_the_retry_waits_out_a_wrapped_storage_403() -> None:
    calls = {"n": 0}

    def upload() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise _wrapped_by_ai_ml(_http(403))
        return "uploaded"

    slept: list[float] = []
    assert (
        retry_while_roles_propagate(
            upload, what="upload", delays=(1, 2, 3), sleep=slept.append, log=lambda _: None
        )
        == "uploaded"
    )
    assert slept == [1, 2]
