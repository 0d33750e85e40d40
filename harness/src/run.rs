//! Rules × scenarios → outcomes: evaluation, expectation checking and the strictness policy.
