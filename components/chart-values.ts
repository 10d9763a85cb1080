// Extra Helm values for the Istio charts, for what the package does not model itself: a remote
// injector or validator URL (istiodRemote.injectionURL, base.validationURL with their CA bundles,
// as an external control plane needs, and as the e2e test points them at its stub), resources,
// tolerations. They may not touch a value the package sets, so its guarantees (revisions, the
// validator, the gateway's labels) hold whatever is given. Pure logic; IstioMesh applies them.
import { ConfigProblem, describe } from "./validation";

/** The charts values can be given for; `istiod@<revision>` targets one control plane's istiod. */
export const VALUE_CHARTS = ["base", "cni", "istiod", "gateway"] as const;

/** One extra value: the chart (and revision, for one istiod) it is for, its dotted path, its value. */
export interface ParsedChartValue {
    chart: string;
    revision?: string;
    path: string[];
    value: unknown;
}

/** The example the messages show. */
const EXAMPLE = "istiod.pilot.resources.requests.cpu=500m";

/**
 * Reads the text of a value as Helm's `--set` would mean it: JSON when it parses as JSON (`true`,
 * `3`, `{"a": 1}`, `"quoted"`), else the text itself.
 */
export function valueFromText(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/**
 * Parses one key of `IstioMeshArgs.chartValues`: `<chart>.<path>` or `istiod@<revision>.<path>`,
 * the path's segments Helm value keys (letters, digits, `_`, `-`).
 */
export function parseChartValueKey(key: string): { chart: string; revision?: string; path: string[] } | undefined {
    const match = /^([a-z]+)(?:@([a-z0-9]([-a-z0-9]*[a-z0-9])?))?((?:\.[A-Za-z0-9_-]+)+)$/.exec(key);
    if (!match) return undefined;
    return { chart: match[1], ...(match[2] !== undefined ? { revision: match[2] } : {}), path: match[4].slice(1).split(".") };
}

/** Every leaf path of a values object (arrays and empty objects are leaves). */
function leafPaths(values: Record<string, unknown>, prefix: string[] = []): string[][] {
    return Object.entries(values).flatMap(([k, v]) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0
        ? leafPaths(v as Record<string, unknown>, [...prefix, k]) : [[...prefix, k]]);
}

/** True when one path is the other or lies below it. */
function overlaps(a: string[], b: string[]): boolean {
    const n = Math.min(a.length, b.length);
    return a.slice(0, n).every((segment, i) => segment === b[i]);
}

/**
 * Checks the extra values: each key parses, names a chart this mesh installs (`cni` only with the
 * CNI agent; `istiod@<revision>` only for a listed revision), and touches no value the package sets
 * for that chart (`programValues(chart, revision)`: what it passes to that release). `setting`
 * names the argument in messages.
 */
export function checkChartValues(setting: string, chartValues: Record<string, string>, mesh: {
    revisions: string[];
    cni: boolean;
    programValues: (chart: string, revision?: string) => Record<string, unknown>;
}): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const charts = VALUE_CHARTS.filter((c) => c !== "cni" || mesh.cni);
    for (const [key, value] of Object.entries(chartValues)) {
        const at = `${setting}[${describe(key)}]`;
        const parsed = parseChartValueKey(key);
        if (typeof value !== "string") {
            problems.push({ setting: at, message: `got ${describe(value)}; allowed values: the value as text (JSON when it parses as JSON, else a string), e.g. ${EXAMPLE}` });
        } else if (!parsed) {
            problems.push({ setting: at, message: `is not <chart>.<path>; allowed values: <chart>.<path>=<value> with chart ${charts.join(", ")} or istiod@<revision>, e.g. ${EXAMPLE}` });
        } else if (!charts.includes(parsed.chart as (typeof VALUE_CHARTS)[number]) || (parsed.revision !== undefined && parsed.chart !== "istiod")) {
            problems.push({ setting: at, message: `names chart ${describe(parsed.revision ? `${parsed.chart}@${parsed.revision}` : parsed.chart)}, which this mesh does not install; ` +
                `allowed values: ${charts.join(", ")}, or istiod@<revision> for one control plane (${mesh.revisions.join(", ")})` });
        } else if (parsed.revision !== undefined && !mesh.revisions.includes(parsed.revision)) {
            problems.push({ setting: at, message: `names revision ${describe(parsed.revision)}, which no installed control plane has (remove its values when you unlist it); ` +
                `allowed values: istiod@<revision> for ${mesh.revisions.join(", ")}, or istiod for every control plane` });
        } else {
            const revisions = parsed.chart === "istiod" ? (parsed.revision !== undefined ? [parsed.revision] : mesh.revisions) : [undefined];
            const taken = revisions.flatMap((r) => leafPaths(mesh.programValues(parsed.chart, r))).find((p) => overlaps(p, parsed.path));
            if (taken) {
                problems.push({ setting: at, message: `touches ${taken.join(".")}, which the package sets itself from other settings; ` +
                    "allowed values: paths the package leaves to the chart's defaults (change the setting that sets it instead)" });
            }
        }
    }
    return problems;
}

/** Sets `value` at `path` in a deep copy of `values`. */
function withValue(values: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
    const [head, ...rest] = path;
    const inner = values[head];
    return {
        ...values,
        [head]: rest.length === 0 ? value : withValue(inner !== null && typeof inner === "object" && !Array.isArray(inner) ? inner as Record<string, unknown> : {}, rest, value),
    };
}

/**
 * The values for one release: `programValues` plus the extra values for its chart, then those for
 * its revision (`istiod@<revision>` after `istiod`). Checked keys touch none of the program's paths.
 */
export function withChartValues(programValues: Record<string, unknown>, chartValues: Record<string, string>, chart: string, revision?: string): Record<string, unknown> {
    const entries = Object.entries(chartValues).map(([key, text]) => ({ parsed: parseChartValueKey(key), text }))
        .filter(({ parsed }) => parsed !== undefined && parsed.chart === chart && (parsed.revision === undefined || parsed.revision === revision))
        .sort((a, b) => Number(a.parsed!.revision !== undefined) - Number(b.parsed!.revision !== undefined));
    return entries.reduce((values, { parsed, text }) => withValue(values, parsed!.path, valueFromText(text)), programValues);
}
