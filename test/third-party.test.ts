import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_ISTIO_VERSION } from "../components/istio-mesh";
import { locateIstioCharts } from "../offline/istio-charts";
import { locateIstioCrds, locateManagedPrometheusCrds } from "../offline/schema";
import { PINNED_COPIES, PROMETHEUS_ENGINE_COPY, differencesFromBlobs, differencesFromModule, gitBlobId, pinnedCopyDir } from "../offline/third-party";

/** Whether a `go` command is on PATH. */
const goAvailable = spawnSync("go", ["version"], { stdio: "ignore" }).error === undefined;

describe("upstream copies in third_party/ (Istio's CRDs and charts without Go)", function () {
    // Comparing may download a module through the Go module proxy the first time.
    this.timeout(300_000);

    it("are what the schema and chart checks read for the pinned versions, with or without Go", () => {
        const api = PINNED_COPIES.find((c) => c.module === "istio.io/api")!;
        assert.equal(api.version, `v${DEFAULT_ISTIO_VERSION}`, "the CRDs kept are the default Istio's");
        assert.equal(locateIstioCrds(DEFAULT_ISTIO_VERSION), path.join(pinnedCopyDir(api), "kubernetes", "customresourcedefinitions.gen.yaml"));
        const charts = PINNED_COPIES.find((c) => c.module === "istio.io/istio")!;
        assert.equal(locateIstioCharts(), path.join(pinnedCopyDir(charts), "manifests", "charts"));
        for (const copy of PINNED_COPIES) {
            for (const kept of copy.paths) assert.ok(fs.existsSync(path.join(pinnedCopyDir(copy), kept)), `${copy.module}@${copy.version}/${kept} is kept`);
        }
    });

    it("name where a version that is not kept comes from: Go, with the setting that replaces it", () => {
        // An empty PATH: no go to run, whatever this machine has.
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e",
            `try { require("./offline/schema").locateIstioCrds("1.30.2"); } catch (e) { console.log(e.message); }`],
        { cwd: path.join(__dirname, ".."), env: { ...process.env, PATH: os.tmpdir(), ISTIO_CRDS: "" }, encoding: "utf8" });
        assert.match(result.stdout, /Go is not installed \(no "go" on PATH\), so Istio 1\.30\.2's CRDs cannot be fetched: install Go or set ISTIO_CRDS/);
    });

    for (const copy of PINNED_COPIES) {
        it(`${copy.module}@${copy.version}: equal to the module the Go module proxy serves`, function () {
            if (!goAvailable) {
                console.log(`      NOTICE: Go is not on PATH, so third_party/${copy.module}@${copy.version} was not compared with the module; CI runs this with Go.`);
                this.skip();
            }
            assert.deepEqual(differencesFromModule(copy), []);
        });
    }

    it("report a changed, a missing and an extra file", () => {
        const copy = PINNED_COPIES.find((c) => c.module === "istio.io/api")!;
        const fake = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-module-"));
        try {
            // A module whose CRD file differs, which lacks the LICENSE and has a file the copy lacks.
            fs.mkdirSync(path.join(fake, "kubernetes"));
            fs.writeFileSync(path.join(fake, "kubernetes", "customresourcedefinitions.gen.yaml"), "changed\n");
            fs.writeFileSync(path.join(fake, "kubernetes", "extra.yaml"), "");
            assert.deepEqual(differencesFromModule({ ...copy, paths: ["LICENSE", "kubernetes"] }, fake).sort(), [
                `LICENSE: not in istio.io/api@${copy.version}`,
                `kubernetes/customresourcedefinitions.gen.yaml: differs from istio.io/api@${copy.version}`,
                "kubernetes/extra.yaml: missing from the copy",
            ]);
        } finally {
            fs.rmSync(fake, { recursive: true, force: true });
        }
    });

    it("prometheus-engine's PodMonitoring CRD: the files of the pinned release, by Git blob id (no module proxy serves it)", () => {
        // `git hash-object` of an empty file, the id every Git tool agrees on.
        assert.equal(gitBlobId(Buffer.alloc(0)), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert.deepEqual(differencesFromBlobs(PROMETHEUS_ENGINE_COPY), []);
        assert.deepEqual(locateManagedPrometheusCrds().map((f) => path.relative(pinnedCopyDir(PROMETHEUS_ENGINE_COPY), f)),
            ["charts/operator/crds/monitoring.googleapis.com_podmonitorings.yaml"]);
    });

    it("report a Git-pinned file that changed, is missing or is not pinned", () => {
        const fake = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-git-copy-"));
        try {
            fs.writeFileSync(path.join(fake, "LICENSE"), "changed\n");
            fs.writeFileSync(path.join(fake, "extra.yaml"), "");
            const crd = Object.keys(PROMETHEUS_ENGINE_COPY.blobs).find((f) => f.endsWith("_podmonitorings.yaml"))!;
            assert.deepEqual(differencesFromBlobs(PROMETHEUS_ENGINE_COPY, fake).sort(), [
                `${crd}: missing from the copy`,
                `LICENSE: differs from ${PROMETHEUS_ENGINE_COPY.module}@${PROMETHEUS_ENGINE_COPY.version} (blob ${PROMETHEUS_ENGINE_COPY.blobs.LICENSE})`,
                `extra.yaml: not pinned from ${PROMETHEUS_ENGINE_COPY.module}@${PROMETHEUS_ENGINE_COPY.version}`,
            ].sort());
        } finally {
            fs.rmSync(fake, { recursive: true, force: true });
        }
    });
});
