//! The scenario format: model, loading, validation and located diagnostics.
