//! Libtest-mimic glue: one trial per scenario and rule for a rule repository's cargo test.
