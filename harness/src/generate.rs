//! Turns a scenario's process tree into a timeline and renders it into each log schema.
