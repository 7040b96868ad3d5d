// Markdown table of gosched-js beside go-wasm (Go 1.19 js/wasm, same Node) from
// the RESULT lines of tools/js-bench: median (min–max) over every sample, and
// Go's median / gosched's median.
//
//   node benches/js-table.mjs results.tsv [more.tsv ...] > table.md
import { readFileSync } from "node:fs";

const ROWS = [
  ["B1 spawn+join 100k, ns/goroutine", "B1", "ns_per_task"],
  ["B1b 10 × 10k, ns/goroutine", "B1b", "ns_per_task"],
  ["B2 ping-pong, ns/round trip", "B2", "ns_per_roundtrip"],
  ["B3 cap-1024 channel, ns/item", "B3", "ns_per_item"],
  ["B4 select over 4 chans (cap 0), ns/select", "B4", "ns_per_select"],
  ["B4b select over 4 chans (cap 1024), ns/select", "B4b", "ns_per_select"],
  ["B5 yield, ns/yield", "B5", "ns_per_yield"],
  ["B6 10k × sleep 10 ms, wall ms", "B6", "wall_ms"],
  ["B7 ring 1000 × 1000 laps, ns/hop", "B7", "ns_per_hop"],
];
const SYSTEMS = ["gosched-js", "go-wasm"];

const samples = new Map();
for (const path of process.argv.slice(2)) {
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const [tag, system, bench, metric, value] = line.split("\t");
    if (tag !== "RESULT" || metric === "FAIL") continue;
    const key = `${system}/${bench}/${metric}`;
    if (!samples.has(key)) samples.set(key, []);
    samples.get(key).push(Number(value));
  }
}
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const cell = (v) => (v ? `${fmt(median(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})` : "–");

console.log(`| benchmark | ${SYSTEMS.join(" | ")} | go-wasm / gosched-js |`);
console.log(`|---|${SYSTEMS.map(() => "---:").join("|")}|---:|`);
for (const [label, bench, metric] of ROWS) {
  const [ours, go] = SYSTEMS.map((s) => samples.get(`${s}/${bench}/${metric}`));
  if (!ours && !go) continue;
  const ratio = ours && go ? `${(median(go) / median(ours)).toFixed(1)}×` : "–";
  console.log(`| ${label} | ${cell(ours)} | ${cell(go)} | ${ratio} |`);
}
