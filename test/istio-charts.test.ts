import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import * as os from "node:os";
import {
    ISTIO_CHARTS, ISTIO_DEFAULTS, IstioMeshArgs, checkIstioMeshArgs, gatewayPodLabels, istioChartValues, istiodChartValues, meshRevisions,
} from "../components/istio-mesh";
import {
    CHART_SOURCE_DIRS, ChartReads, baseChartValidatorService, gatewayChartPodLabels, gatewayChartServiceId, istiodChartObjectNames, istiodChartService,
    locateIstioCharts, readChart, unreadValues,
} from "../offline/istio-charts";

describe("Istio chart values against Istio's own charts (istio.io/istio module, kept in third_party/)", function () {
    this.timeout(300_000);
    let charts: string;
    const reads = {} as Record<keyof typeof ISTIO_CHARTS, ChartReads>;

    before(() => {
        charts = locateIstioCharts();
        for (const chart of Object.keys(ISTIO_CHARTS) as (keyof typeof ISTIO_CHARTS)[]) reads[chart] = readChart(path.join(charts, CHART_SOURCE_DIRS[chart]));
    });

    const variants: [string, IstioMeshArgs][] = [
        ["the defaults", {}],
        ["a revision on GKE", { revision: "canary", platform: "gke" }],
        ["no CNI, no access logs", { cni: false, accessLogging: false }],
    ];
    for (const [label, args] of variants) {
        it(`passes only keys the charts read, with ${label}`, () => {
            const values = istioChartValues({ ...ISTIO_DEFAULTS, ...args });
            for (const chart of Object.keys(ISTIO_CHARTS) as (keyof typeof ISTIO_CHARTS)[]) {
                assert.deepEqual(unreadValues(values[chart], reads[chart]), [], `${chart} values every template of the chart ignores`);
            }
        });
    }

    it("catches keys Helm would silently ignore: legacy pilot.*, typos, keys of another chart", () => {
        assert.deepEqual(unreadValues({ pilot: { autoscaleMin: 2 }, global: { platfrom: "gke" }, cni: { enabeld: true } }, reads.istiod),
            ["pilot.autoscaleMin", "global.platfrom", "cni.enabeld"]);
        assert.deepEqual(unreadValues({ service: { externalTrafficPolicyy: "Local" }, labels: { istio: "ingress" } }, reads.gateway),
            ["service.externalTrafficPolicyy"]);
        assert.deepEqual(unreadValues({ replicaCount: 2 }, reads.cni), ["replicaCount"]);
    });

    it("reads the 1.24+ layout: defaults under _internal_defaults_do_not_set, profile keys in zzz_profile.yaml", () => {
        for (const chart of Object.values(CHART_SOURCE_DIRS)) {
            const values = parse(fs.readFileSync(path.join(charts, chart, "values.yaml"), "utf8"));
            assert.ok(values._internal_defaults_do_not_set, `${chart} wraps its defaults`);
            assert.match(fs.readFileSync(path.join(charts, chart, "templates", "zzz_profile.yaml"), "utf8"), /profile-platform-%s\.yaml/);
        }
        // The GKE profile is what lets the CNI agent's system-node-critical pods run in istio-system.
        const gke = parse(fs.readFileSync(path.join(charts, CHART_SOURCE_DIRS.cni, "files", "profile-platform-gke.yaml"), "utf8"));
        assert.equal(gke.resourceQuotas.enabled, true);
        assert.equal(reads.istiod.defaults.cni.enabled, false, "istiod injects istio-init unless told that CNI is there");
        assert.equal(reads.base.defaults.base.enableCRDTemplates, true, "the base chart templates its CRDs (Helm upgrades them)");
    });

    it("names the gateway's Service after its release, in its namespace: the ID IstioMesh reads the ingress address by", () => {
        for (const [name, namespace] of [["istio-ingress", "istio-ingress"], ["istio-edge", "edge"]]) {
            const values = istioChartValues({ ...ISTIO_DEFAULTS, ingressReleaseName: name, ingressNamespace: namespace }).gateway;
            assert.equal(gatewayChartServiceId(path.join(charts, CHART_SOURCE_DIRS.gateway), { name, namespace }, values), `${namespace}/${name}`);
        }
    });

    it("installs only revisions the charts serve: the default validating webhook calls the Service istiod creates", () => {
        // Once istiod is ready it turns that webhook to Fail: calling a Service that does not exist then refuses every Istio object.
        const served: string[] = [];
        for (const revision of ["", "canary", "1-31-4", "stable", "default"]) {
            const args = { ...ISTIO_DEFAULTS, revision };
            if (checkIstioMeshArgs(args).some((p) => p.setting === "revision")) continue;
            const values = istioChartValues(args);
            const defaultRevision = (values.base as { defaultRevision?: string }).defaultRevision ?? reads.base.defaults.defaultRevision;
            assert.equal(baseChartValidatorService(path.join(charts, CHART_SOURCE_DIRS.base), defaultRevision),
                istiodChartService(path.join(charts, CHART_SOURCE_DIRS.istiod), values.istiod.revision ?? ""), `revision ${JSON.stringify(revision)}`);
            served.push(revision);
        }
        assert.deepEqual(served, ["", "canary", "1-31-4", "stable"], "every other revision is installed");
        const [refusal] = checkIstioMeshArgs({ ...ISTIO_DEFAULTS, revision: "default" });
        assert.match(refusal.message, /^is "default", which the Istio charts cannot install as a revision: .*istiod-default.*; allowed values: unset \(the default revision\)/);
    });

    it("labels the gateway pods with exactly what the Gateway selects", () => {
        for (const release of ["istio-ingress", "istio-edge", "edge"]) {
            const values = istioChartValues({ ...ISTIO_DEFAULTS, ingressReleaseName: release }).gateway;
            const podLabels = gatewayChartPodLabels(path.join(charts, CHART_SOURCE_DIRS.gateway), release, values);
            const selector = { istio: gatewayPodLabels(release).istio };
            for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `${release}: pod label ${k}`);
            // The same labels whether or not the values pin them: the chart derives them from the release name.
            const derived = gatewayChartPodLabels(path.join(charts, CHART_SOURCE_DIRS.gateway), release, {});
            assert.deepEqual({ app: derived.app, istio: derived.istio }, gatewayPodLabels(release));
        }
    });

    describe("several control planes side by side (issue 23)", () => {
        const twoPlanes: IstioMeshArgs = {
            controlPlanes: [{ revision: "default", version: "1.30.8" }, { revision: "1-31-4", version: "1.31.4" }],
            validatorRevision: "1-31-4", gatewayRevision: "default",
        };
        const mesh = { ...ISTIO_DEFAULTS, ...twoPlanes };

        it("gives every istiod release objects of its own: no name two revisions share (Helm refuses an object another release owns)", () => {
            const dir = path.join(charts, CHART_SOURCE_DIRS.istiod);
            const byRevision = meshRevisions(mesh).planes.map((p) => {
                const values = istiodChartValues(mesh, p.revision);
                assert.deepEqual(unreadValues(values, reads.istiod), [], `${p.revision}: values the chart reads`);
                const revisionValue = (values as { revision?: string }).revision ?? "";
                return new Set(istiodChartObjectNames(dir, revisionValue, mesh.systemNamespace).map((o) => `${o.kind}/${o.name}`));
            });
            assert.ok(byRevision[0].size > 20 && byRevision[0].has("MutatingWebhookConfiguration/istio-sidecar-injector"), "the revision-less istiod's objects were read");
            assert.ok(byRevision[1].has("Deployment/istiod-1-31-4") && byRevision[1].has("ValidatingWebhookConfiguration/istio-validator-1-31-4-istio-system"));
            assert.deepEqual([...byRevision[0]].filter((n) => byRevision[1].has(n)), []);
            // Tag objects do not carry the revision: this package sets no revisionTags.
            assert.equal((istiodChartValues(mesh, "1-31-4") as Record<string, unknown>).revisionTags, undefined);
        });

        it("reads names of the shapes it knows and refuses others", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "istiod-chart-"));
            fs.mkdirSync(path.join(dir, "templates"));
            fs.writeFileSync(path.join(dir, "templates", "x.yaml"), "kind: ConfigMap\nmetadata:\n  name: x-{{ .Values.other }}\n");
            assert.throws(() => istiodChartObjectNames(dir, "a", "istio-system"), /x\.yaml: cannot read the name "x-\{\{ \.Values\.other \}\}" of a ConfigMap/);
            fs.rmSync(dir, { recursive: true });
        });

        it("points the default validating webhook at the validator's istiod, and gives each chart its version", () => {
            const values = istioChartValues(mesh);
            assert.equal(baseChartValidatorService(path.join(charts, CHART_SOURCE_DIRS.base), (values.base as { defaultRevision: string }).defaultRevision),
                istiodChartService(path.join(charts, CHART_SOURCE_DIRS.istiod), "1-31-4"));
            assert.equal((values.gateway as { revision?: string }).revision, undefined, "the gateway of the revision-less istiod sets no revision");
            assert.deepEqual(unreadValues(values.gateway, reads.gateway), []);
        });
    });
});

