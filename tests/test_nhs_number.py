"""NHS numbers: Modulus 11, rejected patterns, input forms and display."""

from __future__ import annotations

import pytest

from console.nhs_number import (
    check_digit,
    format_nhs_number,
    is_valid,
    looks_like_nhs_number,
    normalise,
    problem,
)


@pytest.mark.parametrize(
    "number",
    ["9434765919", "943 476 5919", "943-476-5919", " 943 476-5919 ", "9000000009", "4010232137"],
)
def test_known_valid_numbers(number: str) -> None:
    assert is_valid(number)
    assert problem(number) is None


@pytest.mark.parametrize("number", ["9434765918", "9434765910", "1234567890", "9000000001"])
def test_wrong_check_digit_is_invalid(number: str) -> None:
    assert not is_valid(number)
    assert "not a valid NHS number" in (problem(number) or "")


@pytest.mark.parametrize("digit", "0123456789")
def test_all_same_digits_are_rejected(digit: str) -> None:
    assert not is_valid(digit * 10)
    assert "all the digits are the same" in (problem(digit * 10) or "")


def test_a_check_digit_of_ten_means_no_number_is_valid() -> None:
    # 10*1 + 1*2 = 12; 12 % 11 = 1; 11 - 1 = 10 → no valid check digit exists.
    assert check_digit("100000001") is None
    assert not any(is_valid(f"100000001{last}") for last in "0123456789")


def test_a_check_digit_of_eleven_becomes_zero() -> None:
    # 10*1 + 2*6 = 22; 22 % 11 = 0; 11 - 0 = 11 → 0.
    assert check_digit("100000006") == 0
    assert is_valid("1000000060")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("943 476 591", "has 10 digits; you entered 9"),
        ("94347659190", "has 10 digits; you entered 11"),
        ("943a765919", "only numbers"),
        ("943 476 591x", "only numbers"),
    ],
)
def test_problems_are_explained(text: str, message: str) -> None:
    assert not is_valid(text)
    assert message in (problem(text) or "")


def test_full_width_digits_are_read_as_digits() -> None:
    full_width = "".join(chr(0xFF10 + int(d)) for d in "9434765919")
    assert is_valid(full_width)
    assert looks_like_nhs_number(full_width)
    assert format_nhs_number(full_width) == "943 476 5919"


def test_normalise_and_format() -> None:
    assert normalise("943-476 5919") == "9434765919"
    assert format_nhs_number("9434765919") == "943 476 5919"
    assert format_nhs_number("943-476-5919") == "943 476 5919"
    assert format_nhs_number("not a number") == "not a number"


@pytest.mark.parametrize("text", ["9434765919", "943 476 5919", "943-476-5919", "943", "12 34"])
def test_digit_entries_look_like_nhs_numbers(text: str) -> None:
    assert looks_like_nhs_number(text)


@pytest.mark.parametrize("text", ["", "  ", "Smith", "smith 1970", "01-01-1970", "1970-01-31", "-"])
def test_names_and_dates_do_not_look_like_nhs_numbers(text: str) -> None:
    assert not looks_like_nhs_number(text)
