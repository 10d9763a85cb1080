// A stand-in for the istio-proxy sidecars' metrics, for the health-gate e2e: per color, the series
// Istio's standard metrics have (`istio_requests_total`, `istio_request_duration_milliseconds_*`)
// with the labels the gate's queries select on, at request rates, 5xx shares and latencies the
// e2e script sets while it runs. A real Prometheus scrapes it (e2e/telemetry.ts).
//
// Run as its own process (`node -r ts-node/register/transpile-only e2e/istio-exporter.ts
// --upstream URL`), so that the scrapes and the gate's queries are answered
// while the e2e script blocks in spawnSync. It prints `listening on <port>` and serves, on 127.0.0.1:
//   GET  /metrics                      the exposition Prometheus scrapes
//   PUT  /traffic/<namespace>/<app>/<color>  {"rps", "errorShare", "latencyMs"}: that color's traffic from now on
//   GET|POST /prometheus/api/v1/query  passed to the upstream Prometheus, and recorded
//   GET  /queries                      the recorded queries: [{at, query, status}] (at: epoch ms)
//   PUT  /fault                        {"mode": "none" | "error" | "hang"}: how the query path answers
import * as http from "node:http";

/** Istio's default buckets for istio_request_duration_milliseconds (milliseconds). */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** One color's traffic: what its sidecar would have seen per second. */
export interface TrafficProfile {
    /** Requests per second. */
    rps: number;
    /** Share (0..1) of them answered 503. */
    errorShare: number;
    /** How long every request takes, in milliseconds. */
    latencyMs: number;
}

/** The two response codes the exporter reports: success and the 5xx the gate counts as failure. */
const CODES = ["200", "503"] as const;
type Code = (typeof CODES)[number];

/** Running totals of one response code of one color: requests, their summed durations, cumulative buckets. */
interface Totals {
    count: number;
    sumMs: number;
    buckets: number[];
}

/** One color of one app in one namespace: whose sidecars the series stand for. */
export interface Workload {
    namespace: string;
    app: string;
    color: string;
}

/** One color's current profile, since when, and its totals per code at that moment. */
interface ColorState {
    workload: Workload;
    profile: TrafficProfile;
    since: number;
    base: Record<Code, Totals>;
}

/** What the sidecars of each color have counted so far: totals integrated over each profile's time. */
export class IstioTraffic {
    private readonly colors = new Map<string, ColorState>();

    /** From `now` (epoch ms) on, `workload` gets `profile`. A workload never set has no series at all. */
    set(workload: Workload, profile: TrafficProfile, now: number): void {
        const key = `${workload.namespace}/${workload.app}-${workload.color}`;
        if (!(profile.rps >= 0 && profile.errorShare >= 0 && profile.errorShare <= 1 && profile.latencyMs >= 0)) {
            throw new RangeError(`bad traffic profile for ${key}: ${JSON.stringify(profile)}`);
        }
        const current = this.colors.get(key);
        const empty = (): Totals => ({ count: 0, sumMs: 0, buckets: ISTIO_DURATION_BUCKETS_MS.map(() => 0) });
        const base = current ? this.totalsAt(current, now) : { "200": empty(), "503": empty() };
        this.colors.set(key, { workload: { ...workload }, profile, since: now, base });
    }

    /**
     * The totals at `now`: the base plus the profile's requests since, split by its 5xx share;
     * every one of them falls in the buckets at or above the profile's latency (`le` is "at most").
     */
    private totalsAt(c: ColorState, now: number): Record<Code, Totals> {
        const requests = c.profile.rps * Math.max(0, now - c.since) / 1000;
        const added: Record<Code, number> = { "200": requests * (1 - c.profile.errorShare), "503": requests * c.profile.errorShare };
        const at = (code: Code): Totals => ({
            count: c.base[code].count + added[code],
            sumMs: c.base[code].sumMs + added[code] * c.profile.latencyMs,
            buckets: c.base[code].buckets.map((n, i) => n + (ISTIO_DURATION_BUCKETS_MS[i] >= c.profile.latencyMs ? added[code] : 0)),
        });
        return { "200": at("200"), "503": at("503") };
    }

    /** The Prometheus text exposition at `now`: counts are whole requests, as a sidecar counts them. */
    exposition(now: number): string {
        const lines = [
            "# HELP istio_requests_total Total requests.",
            "# TYPE istio_requests_total counter",
        ];
        const histogram = [
            "# HELP istio_request_duration_milliseconds Request duration in milliseconds.",
            "# TYPE istio_request_duration_milliseconds histogram",
        ];
        for (const [, c] of [...this.colors].sort(([a], [b]) => a.localeCompare(b))) {
            const totals = this.totalsAt(c, now);
            const { namespace, app, color } = c.workload;
            const destination = {
                destination_workload: `${app}-${color}`,
                destination_workload_namespace: namespace,
                destination_app: app,
                destination_version: color,
                destination_service: `${app}.${namespace}.svc.cluster.local`,
                source_workload: "istio-ingressgateway",
                source_workload_namespace: "istio-system",
                request_protocol: "http",
                response_flags: "-",
            };
            for (const code of CODES) {
                const l = { reporter: "destination", ...destination, response_code: code };
                lines.push(`istio_requests_total${labels(l)} ${Math.floor(totals[code].count)}`);
                ISTIO_DURATION_BUCKETS_MS.forEach((le, i) => {
                    histogram.push(`istio_request_duration_milliseconds_bucket${labels({ ...l, le: String(le) })} ${Math.floor(totals[code].buckets[i])}`);
                });
                histogram.push(`istio_request_duration_milliseconds_bucket${labels({ ...l, le: "+Inf" })} ${Math.floor(totals[code].count)}`);
                histogram.push(`istio_request_duration_milliseconds_sum${labels(l)} ${totals[code].sumMs}`);
                histogram.push(`istio_request_duration_milliseconds_count${labels(l)} ${Math.floor(totals[code].count)}`);
            }
            // The gateway's own view of the same requests (reporter="source"), all successful: a
            // query that forgot `reporter="destination"` would see other numbers.
            const all = totals["200"].count + totals["503"].count;
            lines.push(`istio_requests_total${labels({ reporter: "source", ...destination, response_code: "200" })} ${Math.floor(all)}`);
        }
        return [...lines, ...histogram, ""].join("\n");
    }
}

/** `{a="1",b="2"}` with the exposition format's escapes. */
function labels(values: Record<string, string>): string {
    return `{${Object.entries(values).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

/** A query the gate sent, as the recording proxy saw it. */
export interface RecordedQuery {
    /** When it arrived (epoch ms). */
    at: number;
    /** The PromQL. */
    query: string;
    /** The HTTP status answered (0 when the proxy hung up on purpose). */
    status: number;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks)));
        req.on("error", reject);
    });
}

/** Serves the exposition, the control endpoints and the recording query proxy (see the file's header). */
export function serve(traffic: IstioTraffic, upstream: string, port = 0): Promise<http.Server> {
    const queries: RecordedQuery[] = [];
    let fault = "none";
    const server = http.createServer(async (req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const reply = (status: number, body: string, type = "application/json") => {
            res.writeHead(status, { "content-type": type });
            res.end(body);
        };
        try {
            const body = await readBody(req);
            if (req.method === "GET" && url.pathname === "/metrics") {
                return reply(200, traffic.exposition(Date.now()), "text/plain; version=0.0.4");
            }
            const workload = /^\/traffic\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
            if (req.method === "PUT" && workload) {
                const [namespace, app, color] = workload.slice(1).map(decodeURIComponent);
                traffic.set({ namespace, app, color }, JSON.parse(body.toString("utf8")), Date.now());
                return reply(204, "");
            }
            if (req.method === "GET" && url.pathname === "/queries") return reply(200, JSON.stringify(queries));
            if (req.method === "PUT" && url.pathname === "/fault") {
                fault = JSON.parse(body.toString("utf8")).mode;
                return reply(204, "");
            }
            if (url.pathname === "/prometheus/api/v1/query") {
                const form = req.method === "POST" ? new URLSearchParams(body.toString("utf8")) : url.searchParams;
                const record: RecordedQuery = { at: Date.now(), query: form.get("query") ?? "", status: 0 };
                queries.push(record);
                if (fault === "hang") return; // never answers: the client's timeout has to end it
                if (fault === "error") {
                    record.status = 503;
                    return reply(503, JSON.stringify({ status: "error", errorType: "unavailable", error: "e2e: the query path is failing on purpose" }));
                }
                const answer = await fetch(`${upstream}/api/v1/query${url.search}`, {
                    method: req.method,
                    headers: req.headers["content-type"] ? { "content-type": String(req.headers["content-type"]) } : {},
                    body: req.method === "POST" ? body : undefined,
                });
                record.status = answer.status;
                return reply(answer.status, await answer.text(), answer.headers.get("content-type") ?? "application/json");
            }
            reply(404, JSON.stringify({ error: `no route ${req.method} ${url.pathname}` }));
        } catch (e) {
            reply(400, JSON.stringify({ error: (e as Error).message }));
        }
    });
    // Never close an idle connection: the e2e script's event loop sleeps in spawnSync for as long as
    // a pulumi command runs, and would then reuse a socket it has not yet seen closed ("fetch failed").
    server.keepAliveTimeout = 0;
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (require.main === module) {
    const arg = (name: string) => {
        const i = process.argv.indexOf(`--${name}`);
        if (i < 0 || !process.argv[i + 1]) throw new Error(`istio-exporter: --${name} is required`);
        return process.argv[i + 1];
    };
    void serve(new IstioTraffic(), arg("upstream")).then((server) => {
        const address = server.address();
        console.log(`listening on ${typeof address === "object" && address ? address.port : "?"}`);
    });
}
