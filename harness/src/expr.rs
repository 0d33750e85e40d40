//! The shared predicate IR: field comparisons combined with and/or/not, compiled matchers and explanation traces.
