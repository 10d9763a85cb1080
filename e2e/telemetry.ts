// The health gate's data on loopback, for e2e scripts: the Istio-shaped exporter
// (e2e/istio-exporter.ts, its own process) and a real Prometheus (Debian's 2.42, cached by
// e2e/build-tools.sh) scraping it every second, in a temporary directory. The gate queries
// Prometheus through the exporter's recording proxy, so a script sees which queries ran and when.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { RecordedQuery, TrafficProfile, Workload } from "./istio-exporter";

/** Seconds between scrapes: the window a script gives the gate must hold a few. */
export const SCRAPE_INTERVAL_SECONDS = 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (the OS's pick, released for the caller to bind). */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

/** Polls `probe` until it returns something, or throws after `timeoutMs` naming `what`. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(200);
    }
}

/** The prometheus binary: $PROMETHEUS, else the one build-tools.sh caches (on PATH through env.sh). */
function prometheusBinary(): string {
    if (process.env.PROMETHEUS) return process.env.PROMETHEUS;
    const cached = path.join(process.env.E2E_CACHE ?? path.join(os.homedir(), ".cache", "bluegreen-e2e"), "path", "prometheus");
    return fs.existsSync(cached) ? cached : "prometheus";
}

/** The exporter and Prometheus of one e2e script. */
export class Telemetry {
    private constructor(
        private readonly dir: string,
        private readonly exporter: ChildProcess,
        private readonly prometheus: ChildProcess,
        /** The exporter's base URL (control endpoints, /metrics). */
        readonly exporterUrl: string,
        /** Prometheus's own base URL. */
        readonly prometheusUrl: string,
    ) {}

    /** The instant-query URL to give the gate (`healthGateQueryUrl`): Prometheus, through the recording proxy. */
    get queryUrl(): string {
        return `${this.exporterUrl}/prometheus/api/v1/query`;
    }

    /** Starts the exporter, then Prometheus scraping it, and returns once Prometheus has scraped it successfully. */
    static async start(): Promise<Telemetry> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-e2e-prometheus-"));
        const prometheusPort = await freePort();
        const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
        const exporter = spawn(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), path.join(__dirname, "istio-exporter.ts"),
            "--upstream", prometheusUrl], { stdio: ["ignore", "pipe", "inherit"] });
        const stopOnExit = () => { exporter.kill(); };
        process.once("exit", stopOnExit);
        const exporterPort = await new Promise<number>((resolve, reject) => {
            let out = "";
            exporter.stdout!.setEncoding("utf8");
            exporter.stdout!.on("data", (chunk: string) => {
                out += chunk;
                const m = /listening on (\d+)/.exec(out);
                if (m) resolve(Number(m[1]));
            });
            exporter.once("exit", (code) => reject(new Error(`istio-exporter exited (${code}) before listening: ${out}`)));
        });
        const exporterUrl = `http://127.0.0.1:${exporterPort}`;

        fs.writeFileSync(path.join(dir, "prometheus.yml"), [
            "global:",
            `  scrape_interval: ${SCRAPE_INTERVAL_SECONDS}s`,
            `  scrape_timeout: ${SCRAPE_INTERVAL_SECONDS}s`,
            `  evaluation_interval: ${SCRAPE_INTERVAL_SECONDS}s`,
            "scrape_configs:",
            "  - job_name: istio-sidecars",
            "    static_configs:",
            `      - targets: ["127.0.0.1:${exporterPort}"]`,
            "",
        ].join("\n"));
        const log = fs.openSync(path.join(dir, "prometheus.log"), "w");
        const prometheus = spawn(prometheusBinary(), [
            `--config.file=${path.join(dir, "prometheus.yml")}`,
            `--storage.tsdb.path=${path.join(dir, "data")}`,
            `--web.listen-address=127.0.0.1:${prometheusPort}`,
            "--storage.tsdb.retention.time=1h",
        ], { stdio: ["ignore", log, log] });
        fs.closeSync(log);
        process.once("exit", () => { prometheus.kill(); });
        const telemetry = new Telemetry(dir, exporter, prometheus, exporterUrl, prometheusUrl);
        try {
            await waitFor("Prometheus to scrape the exporter", 30_000, async () => {
                const up = await telemetry.query(`up{job="istio-sidecars"}`);
                return up.length === 1 && up[0].value === 1 ? true : undefined;
            });
        } catch (e) {
            const tail = fs.readFileSync(path.join(dir, "prometheus.log"), "utf8").split("\n").slice(-20).join("\n");
            await telemetry.stop();
            throw new Error(`${(e as Error).message}\nprometheus.log:\n${tail}`);
        }
        return telemetry;
    }

    /** From now on `workload` gets this traffic. */
    async setTraffic(workload: Workload, profile: TrafficProfile): Promise<void> {
        const path = [workload.namespace, workload.app, workload.color].map(encodeURIComponent).join("/");
        const r = await fetch(`${this.exporterUrl}/traffic/${path}`, { method: "PUT", body: JSON.stringify(profile) });
        if (r.status !== 204) throw new Error(`exporter refused the traffic for ${path}: ${r.status} ${await r.text()}`);
    }

    /** How the query path answers from now on: normally, with HTTP 503, or never. */
    async setFault(mode: "none" | "error" | "hang"): Promise<void> {
        const r = await fetch(`${this.exporterUrl}/fault`, { method: "PUT", body: JSON.stringify({ mode }) });
        if (r.status !== 204) throw new Error(`exporter refused the fault mode ${mode}: ${r.status}`);
    }

    /** Every query the gate sent so far, in order. */
    async queries(): Promise<RecordedQuery[]> {
        return (await fetch(`${this.exporterUrl}/queries`)).json() as Promise<RecordedQuery[]>;
    }

    /** An instant query straight to Prometheus (not recorded): one entry per series, value as a number. */
    async query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
        const r = await fetch(`${this.prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
        const body = await r.json() as any;
        if (body.status !== "success") throw new Error(`prometheus: ${promql}: ${JSON.stringify(body)}`);
        const result = body.data.resultType === "vector" ? body.data.result : [];
        return result.map((s: any) => ({ metric: s.metric, value: Number(s.value[1]) }));
    }

    /**
     * Waits until Prometheus answers `promql` with one value that `accept` takes: the scrapes
     * caught up with what a script set. Returns that value.
     */
    async waitForValue(promql: string, accept: (value: number) => boolean, timeoutMs = 60_000): Promise<number> {
        return waitFor(`${promql} to satisfy ${accept.toString()}`, timeoutMs, async () => {
            const result = await this.query(promql);
            return result.length === 1 && accept(result[0].value) ? result[0].value : undefined;
        });
    }

    /** Stops both processes and removes the temporary directory. */
    async stop(): Promise<void> {
        for (const child of [this.prometheus, this.exporter]) {
            if (child.exitCode === null && child.signalCode === null) {
                const exited = new Promise<void>((resolve) => {
                    const giveUp = setTimeout(resolve, 10_000);
                    child.once("exit", () => { clearTimeout(giveUp); resolve(); });
                });
                child.kill();
                await exited;
            }
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
