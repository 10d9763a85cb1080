// The instant-query client against a fake Prometheus on loopback: what each kind of answer
// becomes (values, an empty result, NaN, HTTP and auth errors, timeouts, an unreachable server).
import * as assert from "node:assert/strict";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { applicationDefaultCredentials, instantQuery, isGoogleEndpoint, parseQueryResponse, parseSampleValue } from "../components/prometheus-client";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

describe("Prometheus instant-query client (fake server on loopback)", () => {
    let server: http.Server;
    let handler: Handler;
    let url: string;
    const seen: { query: string | null; authorization?: string }[] = [];
    const json = (status: number, body: unknown): Handler => (_req, res) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
    };
    const vector = (...values: string[]) => ({ status: "success", data: { resultType: "vector", result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1764600000, v] })) } });

    before(async () => {
        server = http.createServer((req, res) => {
            const u = new URL(req.url!, "http://x");
            seen.push({ query: u.searchParams.get("query"), authorization: req.headers.authorization });
            handler(req, res);
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/query`;
    });
    after(() => {
        server.closeAllConnections();
        server.close();
    });
    beforeEach(() => (seen.length = 0));
    const query = (q = "sum(up)", extra: object = {}) => instantQuery(q, { url, timeoutMs: 2000, ...extra });

    it("reads one sample's value and sends the query as the query parameter", async () => {
        handler = json(200, vector("0.9934"));
        assert.deepEqual(await query(`sum(rate(istio_requests_total{a="b"}[5m]))`), { kind: "value", value: 0.9934 });
        assert.equal(seen[0].query, `sum(rate(istio_requests_total{a="b"}[5m]))`);
    });

    it("an empty vector is no data; NaN is a value the verdict reads as no requests", async () => {
        handler = json(200, vector());
        assert.deepEqual(await query(), { kind: "empty" });
        handler = json(200, vector("NaN"));
        const nan = await query();
        assert.equal(nan.kind, "value");
        assert.ok(nan.kind === "value" && Number.isNaN(nan.value));
        handler = json(200, { status: "success", data: { resultType: "scalar", result: [1, "+Inf"] } });
        assert.deepEqual(await query(), { kind: "value", value: Number.POSITIVE_INFINITY });
    });

    it("several series are an error that says to aggregate", async () => {
        handler = json(200, vector("1", "2"));
        const m = await query();
        assert.equal(m.kind, "error");
        assert.match((m as { message: string }).message, /returned 2 series, not one number \(aggregate it/);
    });

    it("Prometheus's own errors, HTTP errors and auth errors say what happened", async () => {
        handler = json(400, { status: "error", errorType: "bad_data", error: "parse error at char 5" });
        assert.deepEqual(await query(), { kind: "error", message: "Prometheus answered bad_data: parse error at char 5" });
        handler = json(403, { error: { code: 403, message: "Permission monitoring.timeSeries.list denied" } });
        const denied = await query();
        assert.match((denied as { message: string }).message, /HTTP 403, permission denied \(the caller needs roles\/monitoring\.viewer.*\): Permission monitoring\.timeSeries\.list denied/);
        handler = json(401, { error: { message: "Request had invalid authentication credentials." } });
        assert.match((await query() as { message: string }).message, /HTTP 401, not authenticated/);
        handler = (_req, res) => {
            res.writeHead(502, { "content-type": "text/html" });
            res.end("<html>bad gateway</html>");
        };
        assert.match((await query() as { message: string }).message, /HTTP 502, the server failed: <html>bad gateway<\/html>/);
        handler = (_req, res) => {
            res.writeHead(200);
            res.end("not json");
        };
        assert.deepEqual(await query(), { kind: "error", message: "the response is not JSON" });
    });

    it("a server that does not answer in time is an error naming the timeout", async () => {
        handler = () => { /* never answers */ };
        assert.deepEqual(await query("sum(up)", { timeoutMs: 300 }), { kind: "error", message: "no answer within 0.3s" });
    });

    it("a server that is not there is an error naming the address", async () => {
        const closed = http.createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as AddressInfo).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        const m = await instantQuery("up", { url: `http://127.0.0.1:${port}/api/v1/query`, timeoutMs: 2000 });
        assert.deepEqual(m, { kind: "error", message: `cannot reach 127.0.0.1:${port}: ECONNREFUSED` });
    });

    it("sends the credentials it is given, and reports credentials it cannot get without querying", async () => {
        handler = json(200, vector("1"));
        await query("up", { authorization: async () => ({ authorization: "Bearer t0ken" }) });
        assert.equal(seen[0].authorization, "Bearer t0ken");
        const m = await query("up", { authorization: async () => { throw new Error("could not load the default credentials"); } });
        assert.deepEqual(m, { kind: "error", message: "no credentials for " + new URL(url).host + ": could not load the default credentials" });
        assert.equal(seen.length, 1, "no request without credentials");
    });
});

describe("Prometheus client pieces (pure)", () => {
    it("parses sample values as Prometheus writes them", () => {
        assert.equal(parseSampleValue("12.5"), 12.5);
        assert.ok(Number.isNaN(parseSampleValue("NaN")!));
        assert.equal(parseSampleValue("-Inf"), Number.NEGATIVE_INFINITY);
        assert.equal(parseSampleValue(""), undefined);
        assert.equal(parseSampleValue(3), undefined);
        assert.equal(parseQueryResponse({ status: "success", data: { resultType: "matrix", result: [] } }).kind, "error");
    });

    it("uses Application Default Credentials for Google endpoints only, loading google-auth-library only then", async () => {
        assert.equal(isGoogleEndpoint("https://monitoring.googleapis.com/v1/projects/p/location/global/prometheus/api/v1/query"), true);
        assert.equal(isGoogleEndpoint("http://127.0.0.1:9090/api/v1/query"), false);
        assert.equal(isGoogleEndpoint("https://googleapis.com.evil.example/api/v1/query"), false);
        const missing = applicationDefaultCredentials(() => { throw new Error("Cannot find module"); });
        await assert.rejects(missing(), /google-auth-library is not installed; install it next to this package/);
        let scopes: unknown;
        const fake = applicationDefaultCredentials(() => ({
            GoogleAuth: class {
                constructor(o: { scopes: unknown }) { scopes = o.scopes; }
                async getRequestHeaders() { return new Headers({ authorization: "Bearer adc" }); }
            },
        }));
        assert.deepEqual(await fake(), { authorization: "Bearer adc" });
        assert.deepEqual(scopes, ["https://www.googleapis.com/auth/monitoring.read"]);
    });

    it("google-auth-library, as installed, still has the API the gate calls", () => {
        const library = require("google-auth-library");
        assert.equal(typeof library.GoogleAuth.prototype.getRequestHeaders, "function");
    });
});
