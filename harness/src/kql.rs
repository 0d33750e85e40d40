//! A KQL lexer, parser and interpreter for the part of the language hunting queries use.
