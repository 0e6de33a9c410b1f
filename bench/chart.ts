/**
 * The SVG bar chart of a benchmark result: ratio to Deno.serve per scenario and server
 * (`bench/results/latest.svg`). Pure, hand-written SVG, no dependencies.
 *
 * @module
 */

import {
  type BenchResult,
  describeMachine,
  isMemoryScenario,
  type MeasuredServer,
  memoryScenarioOf,
  type ScenarioId,
  SERVER_NAMES,
  type ServerName,
  summarizeLoad,
} from "./report.ts";

/** Escapes text for an SVG text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&apos;");
}

/** Bar colours per server, chosen to stay distinguishable in grey scale too. */
const SERVER_COLORS: Record<ServerName, string> = {
  "sockserve": "#d9480f",
  "deno-serve": "#1c7ed6",
  "node-http": "#37b24d",
  "nginx": "#495057",
  "deno-raw-loop": "#ae3ec9",
};

/** Bar colour of a baseline build: a lighter shade of sockserve's. */
const BASELINE_COLOR = "#ffa94d";

function serverColor(server: MeasuredServer): string {
  return (SERVER_COLORS as Record<string, string>)[server] ?? BASELINE_COLOR;
}

/** Report order of servers: {@linkcode SERVER_NAMES}, each baseline build right after sockserve. */
function orderServers(servers: Iterable<MeasuredServer>): MeasuredServer[] {
  const rank = (server: MeasuredServer) => {
    const index = (SERVER_NAMES as readonly string[]).indexOf(server);
    return index >= 0 ? index : (SERVER_NAMES as readonly string[]).indexOf("sockserve") + 0.5;
  };
  return [...new Set(servers)].sort((a, b) => rank(a) - rank(b));
}

const CHART_WIDTH = 960;
const CHART_HEIGHT = 440;
const CHART_MARGIN = { top: 78, right: 20, bottom: 56, left: 56 };

/**
 * Draws a grouped bar chart of the ratio to Deno.serve per scenario and server (S1–S7 by req/s,
 * W1 by messages/s, M1 and M2 by KiB per idle connection, where lower is better), with the date
 * and machine in the title. Hand-written SVG, no dependencies.
 *
 * @example
 * ```ts
 * import type { BenchResult } from "./report.ts";
 * declare const result: BenchResult;
 * await Deno.writeTextFile("bench/results/latest.svg", renderSvgChart(result));
 * ```
 */
export function renderSvgChart(result: BenchResult): string {
  const groups: { id: ScenarioId; bars: { server: MeasuredServer; ratio: number }[] }[] = [];
  for (const scenario of result.scenarios) {
    const bars: { server: MeasuredServer; ratio: number }[] = [];
    if (isMemoryScenario(scenario.id)) {
      for (const entry of result.memory) {
        if (memoryScenarioOf(entry) !== scenario.id) continue;
        if (entry.ratioToReference !== null && Number.isFinite(entry.ratioToReference)) {
          bars.push({ server: entry.server, ratio: entry.ratioToReference });
        }
      }
    } else {
      for (const row of summarizeLoad(result.load)) {
        if (row.scenario === scenario.id && row.ratio !== null && Number.isFinite(row.ratio)) {
          bars.push({ server: row.server, ratio: row.ratio });
        }
      }
    }
    groups.push({ id: scenario.id, bars });
  }
  const servers = orderServers(groups.flatMap((group) => group.bars.map((bar) => bar.server)));
  for (const group of groups) {
    group.bars.sort((a, b) => servers.indexOf(a.server) - servers.indexOf(b.server));
  }
  const maxRatio = Math.max(1.2, ...groups.flatMap((group) => group.bars.map((bar) => bar.ratio)));
  const axisMax = niceCeiling(maxRatio);
  const plotWidth = CHART_WIDTH - CHART_MARGIN.left - CHART_MARGIN.right;
  const plotHeight = CHART_HEIGHT - CHART_MARGIN.top - CHART_MARGIN.bottom;
  const yOf = (ratio: number) => CHART_MARGIN.top + plotHeight * (1 - ratio / axisMax);
  const groupWidth = plotWidth / Math.max(1, groups.length);
  const barWidth = Math.min(28, (groupWidth * 0.8) / Math.max(1, servers.length));

  const parts: string[] = [];
  const title =
    `Ratio to Deno.serve, same round (higher is better; M1, M2 memory: lower is better)`;
  const subtitle = `${result.date.slice(0, 10)} · ${describeMachine(result.machine)} · ` +
    `1 server core, wrk on the other`;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" ` +
      `viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<title>${escapeXml(`${title} — ${subtitle}`)}</title>`);
  parts.push(`<rect width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${CHART_WIDTH / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${
      escapeXml(title)
    }</text>`,
  );
  parts.push(
    `<text x="${CHART_WIDTH / 2}" y="42" text-anchor="middle" fill="#495057">${
      escapeXml(subtitle)
    }</text>`,
  );
  // Legend, one swatch per server that has at least one bar.
  let legendX = CHART_MARGIN.left;
  for (const server of servers) {
    parts.push(
      `<rect x="${legendX}" y="54" width="12" height="12" fill="${serverColor(server)}"/>`,
    );
    parts.push(`<text x="${legendX + 16}" y="64">${escapeXml(server)}</text>`);
    legendX += 24 + server.length * 7;
  }
  // Horizontal grid lines and labels.
  const step = gridStep(axisMax);
  for (let tick = 0; tick <= axisMax + 1e-9; tick += step) {
    const y = round2(yOf(tick));
    parts.push(
      `<line x1="${CHART_MARGIN.left}" x2="${
        CHART_WIDTH - CHART_MARGIN.right
      }" y1="${y}" y2="${y}" stroke="#e9ecef"/>`,
    );
    parts.push(
      `<text x="${CHART_MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${
        formatTick(tick)
      }×</text>`,
    );
  }
  // The parity line: Deno.serve itself.
  const parityY = round2(yOf(1));
  parts.push(
    `<line x1="${CHART_MARGIN.left}" x2="${
      CHART_WIDTH - CHART_MARGIN.right
    }" y1="${parityY}" y2="${parityY}" stroke="#1c7ed6" stroke-dasharray="6 4"/>`,
  );
  groups.forEach((group, groupIndex) => {
    const groupX = CHART_MARGIN.left + groupWidth * groupIndex;
    const barsWidth = barWidth * group.bars.length;
    let barX = groupX + (groupWidth - barsWidth) / 2;
    for (const bar of group.bars) {
      const y = round2(yOf(bar.ratio));
      const height = round2(CHART_MARGIN.top + plotHeight - y);
      parts.push(
        `<rect x="${round2(barX)}" y="${y}" width="${round2(barWidth - 2)}" height="${height}" ` +
          `fill="${serverColor(bar.server)}"><title>${
            escapeXml(`${group.id} ${bar.server}: ${bar.ratio.toFixed(2)}×`)
          }</title></rect>`,
      );
      parts.push(
        `<text x="${round2(barX + (barWidth - 2) / 2)}" y="${
          round2(y - 4)
        }" text-anchor="middle" font-size="10">${bar.ratio.toFixed(2)}</text>`,
      );
      barX += barWidth;
    }
    const scenario = result.scenarios.find((entry) => entry.id === group.id);
    parts.push(
      `<text x="${round2(groupX + groupWidth / 2)}" y="${
        CHART_HEIGHT - CHART_MARGIN.bottom + 18
      }" text-anchor="middle" font-weight="bold">${escapeXml(group.id)}</text>`,
    );
    parts.push(
      `<text x="${round2(groupX + groupWidth / 2)}" y="${
        CHART_HEIGHT - CHART_MARGIN.bottom + 34
      }" text-anchor="middle" font-size="10" fill="#495057">${
        escapeXml(scenario?.title ?? "")
      }</text>`,
    );
  });
  parts.push(
    `<line x1="${CHART_MARGIN.left}" x2="${CHART_WIDTH - CHART_MARGIN.right}" y1="${
      CHART_MARGIN.top + plotHeight
    }" y2="${CHART_MARGIN.top + plotHeight}" stroke="#212529"/>`,
  );
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ value (the chart's top). */
function niceCeiling(value: number): number {
  const exponent = Math.floor(Math.log10(value));
  const base = 10 ** exponent;
  for (const factor of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (factor * base >= value) return factor * base;
  }
  return 10 * base;
}

function gridStep(axisMax: number): number {
  if (axisMax <= 2) return 0.25;
  if (axisMax <= 4) return 0.5;
  if (axisMax <= 10) return 1;
  return niceCeiling(axisMax / 8);
}

function formatTick(tick: number): string {
  return Number.isInteger(tick) ? String(tick) : tick.toFixed(2).replace(/0$/, "");
}
