"""Check characters of the Chinese identifiers the pseudonym operator fakes.

``gb11643_check`` (居民身份证, ISO 7064 MOD 11-2), ``luhn_check_digit`` (bank cards),
``gb11714_check`` (组织机构代码) and ``gb32100_check`` (统一社会信用代码).
"""

from __future__ import annotations

GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECKS = "10X98765432"

GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

GB32100_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def gb11643_check(first17: str) -> str:
    """The 18th character of an ID number whose first 17 digits are ``first17`` ('0'-'9' or 'X')."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, GB11643_WEIGHTS, strict=True))
    return GB11643_CHECKS[total % 11]


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:  # doubled: it is second from the right once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def gb11714_check(first8: str) -> str:
    """The 9th character of an organization code (digits/uppercase letters; 'X' stands for 10)."""
    total = sum(int(char, 36) * weight for char, weight in zip(first8, GB11714_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def gb32100_check(first17: str) -> str:
    """The 18th character of a unified social credit code whose first 17 are ``first17``."""
    total = sum(
        GB32100_ALPHABET.index(char) * weight for char, weight in zip(first17, GB32100_WEIGHTS, strict=True)
    )
    return GB32100_ALPHABET[(31 - total % 31) % 31]
