"""Operations: the nightly batch (start or resume, produce, finish), init, sample, bench."""
