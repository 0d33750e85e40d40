// Runs Microsoft's Kusto parser (Kusto.Language via @kusto/language-service-next) over queries.
// stdin: a JSON array of {"id": string, "text": string, "tables"?: {"Name": "(col:type, ...)"},
// "script"?: true},
// or {"tables": {...}, "cases": [...]} where the shared tables apply to every case without its own.
// stdout: a JSON array of {"id", "diagnostics": [{"code", "severity", "start", "length", "message"}],
// "columns"?: [{"name", "type"}]}. Without "tables" only syntax is checked (KustoCode.Parse);
// with "tables" the query is also bound against a database holding exactly those tables
// (KustoCode.ParseAndAnalyze) and the result columns are reported. With "script" the text is
// split into blocks as Kusto's editors split it (CodeScript), and "blocks": [{"text",
// "diagnostics"}] reports each block parsed alone. Offsets are UTF-16 units.
// The package is looked up in $KUSTO_ORACLE_DIR/node_modules (default target/kusto-oracle).
'use strict';
const path = require('path');
const fs = require('fs');
const root = process.env.KUSTO_ORACLE_DIR || path.join(__dirname, '..', '..', 'target', 'kusto-oracle');
const pkg = path.join(root, 'node_modules', '@kusto', 'language-service-next');
if (!fs.existsSync(path.join(pkg, 'Kusto.Language.Bridge.js'))) {
  process.stderr.write(`package not installed in ${pkg}; run tools/kusto-oracle/install.sh\n`);
  process.exit(3);
}
require(path.join(pkg, 'bridge.js'));
require(path.join(pkg, 'Kusto.Language.Bridge.js'));
const K = global.Kusto.Language;
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const S = K.Symbols;
function globalsFor(tables) {
  const symbols = Object.entries(tables).map(
    ([name, schema]) => new S.TableSymbol.$ctor7(name, schema, null));
  return K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor1('db', symbols, false));
}
const cases = Array.isArray(input) ? input : input.cases;
const shared = Array.isArray(input) || !input.tables ? null : globalsFor(input.tables);
function diagnosticsOf(code) {
  const list = code.GetDiagnostics();
  const diagnostics = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    diagnostics.push({
      code: d.Code,
      severity: String(d.Severity),
      start: d.Start,
      length: d.Length,
      message: d.Message,
    });
  }
  return diagnostics;
}
// A script case: the text is split into blocks as Kusto's editors split it (CodeScript), and
// each block's text is parsed alone (syntax only).
function scriptCase(id, text) {
  const script = K.Editor.CodeScript.From$1(text, K.GlobalState.Default);
  const blocks = [];
  for (let i = 0; i < script.Blocks.Count; i++) {
    const b = script.Blocks.getItem(i);
    blocks.push({ text: b.Text, diagnostics: diagnosticsOf(K.KustoCode.Parse(b.Text)) });
  }
  return { id, diagnostics: [], blocks };
}
const out = cases.map(({ id, text, tables, script }) => {
  if (script) return scriptCase(id, text);
  const globals = tables ? globalsFor(tables) : shared;
  const code = globals ? K.KustoCode.ParseAndAnalyze(text, globals) : K.KustoCode.Parse(text);
  const result = { id, diagnostics: diagnosticsOf(code) };
  if (globals) {
    const type = code.ResultType;
    result.columns = [];
    if (type && type.Columns) {
      for (let i = 0; i < type.Columns.Count; i++) {
        const c = type.Columns.getItem(i);
        result.columns.push({ name: c.Name, type: c.Type.Name });
      }
    }
  }
  return result;
});
process.stdout.write(JSON.stringify(out));
