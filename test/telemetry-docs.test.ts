// docs/telemetry-and-gate.md shows what a user sees: its example messages are the gate's own
// words for the situations they describe, and it names every telemetry and gate setting.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ISTIO_REQUESTS_TOTAL, ISTIO_REQUEST_DURATION_BUCKET } from "../components/health-queries";
import { GateContext, HEALTH_GATE_DEFAULTS, HealthGatePolicy, Measurement, dataSourceAdvice, gateChecks, gateVerdict, managedPrometheusQueryUrl } from "../components/health-verdict";

const root = path.join(__dirname, "..");
const page = fs.readFileSync(path.join(root, "docs", "telemetry-and-gate.md"), "utf8");

/** The text block after `<!-- example: <name> -->`. */
function example(name: string): string {
    const m = new RegExp(`<!-- example: ${name} -->\\n\`\`\`text\\n([\\s\\S]*?)\\n\`\`\``).exec(page);
    assert.ok(m, `the page has the example "${name}"`);
    return m[1];
}

/** A switch of the dev stack's app to green, on a cluster built here, with testers allowed from one range. */
const policy: HealthGatePolicy = { ...HEALTH_GATE_DEFAULTS, checks: [], queryUrl: managedPrometheusQueryUrl("my-project") };
const context: GateContext = {
    app: "nginx", namespace: "sample-ns", color: "green", gains: ["catch-all share: 0% -> 100%"], policy,
    rollback: { rollback: false, reason: "green has not served through this VirtualService before" }, creating: false, preview: false,
    dataSources: dataSourceAdvice("green", { headerName: "x-version", mirrorToIdle: 0, mirrorColor: "green", targetedRoutesToColor: [], headerTesters: "from 203.0.113.0/24" }),
    keptColor: "blue",
};
const measured = (answers: Measurement[]) =>
    gateChecks(policy, { namespace: "sample-ns", app: "nginx", color: "green", window: policy.window }).map((c, i) => ({ ...c, result: answers[i] }));
const value = (v: number): Measurement => ({ kind: "value", value: v });

describe("docs/telemetry-and-gate.md", () => {
    it("shows a refusal exactly as the gate words it (green at 91.2% and 3.1 s)", () => {
        const verdict = gateVerdict(context, measured([value(480), value(0.912), value(3120)]));
        assert.equal(verdict.decision, "refuse");
        assert.equal(example("refusal"), verdict.message);
    });

    it("shows the no-data warning exactly as the gate words it", () => {
        const verdict = gateVerdict(context, measured([{ kind: "empty" }, { kind: "empty" }, { kind: "empty" }]));
        assert.equal(verdict.decision, "pass-with-warning");
        assert.equal(example("no data"), verdict.message);
    });

    it("names every telemetry and gate setting of Pulumi.yaml, and the metrics that are kept", () => {
        const settings = Object.keys(parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")).config)
            .filter((key) => key === "collectMetrics" || key.startsWith("healthGate"));
        assert.ok(settings.length >= 9, settings.join(", "));
        for (const key of settings) assert.ok(page.includes(`\`${key}`), `${key} is documented`);
        for (const metric of [ISTIO_REQUESTS_TOTAL, ISTIO_REQUEST_DURATION_BUCKET]) assert.ok(page.includes(metric), metric);
    });
});
