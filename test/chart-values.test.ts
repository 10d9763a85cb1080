// istioHelmValues: extra Helm values for the Istio charts, through the stack config to the releases,
// never over a value the package sets.
import * as assert from "node:assert/strict";
import { checkChartValues, parseChartValueKey, valueFromText, withChartValues } from "../components/chart-values";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { evaluate, useMocks } from "./harness";

const TWO_PLANES = { istioControlPlanes: '["1-30-2=1.30.2","1-31-4=1.31.4"]', istioValidatorRevision: "1-30-2", ingressIstioRevision: "1-30-2",
    istioRevision: "1-30-2" };

describe("istioHelmValues: extra values for the Istio charts", () => {
    it("parses <chart>[@<revision>].<path> and reads values as JSON when they parse", () => {
        assert.deepEqual(parseChartValueKey("istiod@1-31-4.istiodRemote.injectionURL"), { chart: "istiod", revision: "1-31-4", path: ["istiodRemote", "injectionURL"] });
        assert.deepEqual(parseChartValueKey("base.base.validationURL"), { chart: "base", path: ["base", "validationURL"] });
        assert.equal(parseChartValueKey("istiod"), undefined);
        assert.equal(parseChartValueKey("istiod..x"), undefined);
        assert.deepEqual([valueFromText("true"), valueFromText("3"), valueFromText('{"a":1}'), valueFromText("https://x:1/inject")], [true, 3, { a: 1 }, "https://x:1/inject"]);
    });

    it("merges a chart's values, then one revision's, into a copy of the package's", () => {
        const program = { meshConfig: { accessLogFile: "/dev/stdout" } };
        const merged = withChartValues(program, {
            "istiod.meshConfig.defaultProviders.metrics": '["prometheus"]',
            "istiod.istiodRemote.injectionURL": "https://all",
            "istiod@b.istiodRemote.injectionURL": "https://b",
            "gateway.podAnnotations.x": "y",
        }, "istiod", "b");
        assert.deepEqual(merged, {
            meshConfig: { accessLogFile: "/dev/stdout", defaultProviders: { metrics: ["prometheus"] } },
            istiodRemote: { injectionURL: "https://b" },
        });
        assert.deepEqual(program, { meshConfig: { accessLogFile: "/dev/stdout" } }, "the package's values are not changed in place");
        assert.deepEqual(withChartValues(program, { "istiod@b.x": "1" }, "istiod", "a"), program, "another revision's values do not apply");
    });

    it("refuses unknown charts, unlisted revisions and paths the package sets, naming each", () => {
        const problems = checkChartValues("chartValues", {
            "ingress.x": "1",
            "istiod@gone.istiodRemote.injectionURL": "https://x",
            "istiod.meshConfig.accessLogFile": "/tmp/log",
            "istiod@a.meshConfig": "{}",
            "cni.resources.requests.cpu": "1",
            "gateway.resources.requests.cpu": "1",
        }, {
            revisions: ["a", "b"], cni: false,
            programValues: (chart) => chart === "istiod" ? { meshConfig: { accessLogFile: "/dev/stdout" } } : {},
        });
        assert.deepEqual(problems.map((p) => p.setting), [
            'chartValues["ingress.x"]', 'chartValues["istiod@gone.istiodRemote.injectionURL"]', 'chartValues["istiod.meshConfig.accessLogFile"]',
            'chartValues["istiod@a.meshConfig"]', 'chartValues["cni.resources.requests.cpu"]',
        ]);
        assert.match(problems[1].message, /no installed control plane has.*istiod@<revision> for a, b/);
        assert.match(problems[2].message, /touches meshConfig\.accessLogFile, which the package sets itself/);
        assert.match(problems[3].message, /touches meshConfig\.accessLogFile/);
    });

    describe("through the stack config", () => {
        let program: () => unknown;
        before(async () => {
            await useMocks();
            program = await loadProgram();
        });
        const istiods = async (config: Record<string, string>) => {
            const ev = await evaluate(program, loadStackConfig("dev", config));
            assert.equal(ev.error, undefined, ev.error?.message);
            return Object.fromEntries(ev.resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release").map((r) => [r.inputs.name, r.inputs.values]));
        };

        it("reaches each release: every istiod, one revision's istiod, base and the gateway", async () => {
            const values = await istiods({
                ...TWO_PLANES,
                istioHelmValues: JSON.stringify([
                    "istiod.istiodRemote.injectionCABundle=Q0E=",
                    "istiod@1-31-4.istiodRemote.injectionURL=https://127.0.0.1:8443/inject/1-31-4",
                    "base.base.validationURL=https://127.0.0.1:8443/validate",
                    "gateway.podAnnotations.team=edge",
                ]),
            });
            assert.deepEqual(values["istiod-1-31-4"].istiodRemote, { injectionCABundle: "Q0E=", injectionURL: "https://127.0.0.1:8443/inject/1-31-4" });
            assert.deepEqual(values["istiod-1-30-2"].istiodRemote, { injectionCABundle: "Q0E=" });
            assert.equal(values["istio-base"].base.validationURL, "https://127.0.0.1:8443/validate");
            assert.equal(values["istio-base"].defaultRevision, "1-30-2", "the package's own base values stay");
            assert.deepEqual(values["istio-ingress"].podAnnotations, { team: "edge" });
        });

        it("is refused with the setting's name before anything is declared: a path the package sets, a malformed entry", async () => {
            for (const [entry, refusal] of [
                ["istiod@1-31-4.revision=other", /istioHelmValues\["istiod@1-31-4\.revision"\]: touches revision, which the package sets itself/],
                ["gateway", /istioHelmValues\[0\]: got "gateway"; allowed values: <chart>\.<path>=<value>/],
            ] as const) {
                const ev = await evaluate(program, loadStackConfig("dev", { ...TWO_PLANES, istioHelmValues: JSON.stringify([entry]) }));
                assert.match(ev.error?.message ?? "", refusal);
                assert.deepEqual(ev.resources.filter((r) => !r.type.startsWith("pulumi:")), []);
            }
        });
    });
});
