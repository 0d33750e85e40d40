//! One versioned report model and its pure writers: JSON, JUnit, Markdown, HTML, ATT&CK layer.
