//! A Sigma engine: rule model, condition parser, modifiers, pipelines and correlations.
