"""Data protection: detect personal data in Chinese and English text, and desensitize it (脱敏)."""
