// A client for the Prometheus instant-query API (`GET .../api/v1/query?query=...`), as Prometheus
// itself and Managed Service for Prometheus serve it. Every answer becomes a Measurement: one
// number (NaN included), no series, or an error saying what went wrong. It never throws, so the
// gate decides what an unanswered query means (health-verdict.ts), not the transport.
import { Measurement } from "./health-verdict";

/** Where and how to query. */
export interface InstantQueryOptions {
    /** The instant-query URL, ending in `/api/v1/query`. */
    url: string;
    /** Milliseconds a query may take, connection included, before it counts as failed. */
    timeoutMs: number;
    /** Headers to send (an Authorization header), or an error message when they cannot be had. */
    authorization?: () => Promise<Record<string, string>>;
}

/** A number as Prometheus writes sample values: decimal, `NaN`, `+Inf`, `-Inf`. */
export function parseSampleValue(raw: unknown): number | undefined {
    if (typeof raw !== "string") return undefined;
    if (raw === "NaN") return Number.NaN;
    if (raw === "+Inf" || raw === "Inf") return Number.POSITIVE_INFINITY;
    if (raw === "-Inf") return Number.NEGATIVE_INFINITY;
    const value = Number(raw);
    return raw.trim() !== "" && !Number.isNaN(value) ? value : undefined;
}

/**
 * Reads a query API response body: a scalar or a vector of at most one sample is a value, an
 * empty vector is no data; anything else (several series, a matrix, an error status) is an error
 * naming what came back.
 */
export function parseQueryResponse(body: unknown): Measurement {
    const b = body as { status?: unknown; error?: unknown; errorType?: unknown; data?: { resultType?: unknown; result?: unknown } };
    if (!b || typeof b !== "object") return { kind: "error", message: "the response is not a JSON object" };
    if (b.status !== "success") {
        return { kind: "error", message: `Prometheus answered ${String(b.errorType ?? b.status ?? "without a status")}: ${String(b.error ?? "no error text")}` };
    }
    const result = b.data?.result;
    switch (b.data?.resultType) {
        case "scalar": {
            const value = Array.isArray(result) ? parseSampleValue(result[1]) : undefined;
            return value === undefined ? { kind: "error", message: "the scalar result has no number" } : { kind: "value", value };
        }
        case "vector": {
            if (!Array.isArray(result)) return { kind: "error", message: "the vector result is not a list" };
            if (result.length === 0) return { kind: "empty" };
            if (result.length > 1) {
                return { kind: "error", message: `the query returned ${result.length} series, not one number (aggregate it, e.g. with sum(...))` };
            }
            const value = parseSampleValue(result[0]?.value?.[1]);
            return value === undefined ? { kind: "error", message: "the sample has no number" } : { kind: "value", value };
        }
        default:
            return { kind: "error", message: `the query returned a ${String(b.data?.resultType)} result, not one number (an instant query over a vector or scalar expression)` };
    }
}

/** What an HTTP status says, for the message. */
function describeStatus(status: number, body: string): string {
    const detail = (() => {
        try {
            const parsed = JSON.parse(body);
            return String(parsed?.error?.message ?? parsed?.error ?? "").slice(0, 300);
        } catch {
            return body.trim().slice(0, 300);
        }
    })();
    const kind = status === 401 ? "not authenticated" : status === 403 ? "permission denied (the caller needs roles/monitoring.viewer or read access to this Prometheus)"
        : status === 404 ? "no query API at this URL" : status === 429 ? "rate limited" : status >= 500 ? "the server failed" : "the request was refused";
    return `HTTP ${status}, ${kind}${detail ? `: ${detail}` : ""}`;
}

/** Runs one instant query. Never throws: failures come back as `{ kind: "error" }` with the reason. */
export async function instantQuery(query: string, options: InstantQueryOptions): Promise<Measurement> {
    let headers: Record<string, string> = { accept: "application/json" };
    try {
        if (options.authorization) headers = { ...headers, ...(await options.authorization()) };
    } catch (e) {
        return { kind: "error", message: `no credentials for ${new URL(options.url).host}: ${(e as Error).message}` };
    }
    const url = new URL(options.url);
    url.searchParams.set("query", query);
    let response: Response;
    let text: string;
    try {
        // One deadline for the connection, the headers and the body.
        const signal = AbortSignal.timeout(options.timeoutMs);
        response = await fetch(url, { headers, signal, redirect: "error" });
        text = await response.text();
    } catch (e) {
        const error = e as Error & { cause?: { code?: string; message?: string } };
        if (error.name === "TimeoutError" || error.name === "AbortError") return { kind: "error", message: `no answer within ${options.timeoutMs / 1000}s` };
        return { kind: "error", message: `cannot reach ${url.host}: ${error.cause?.code ?? error.cause?.message ?? error.message}` };
    }
    // Prometheus answers 400/422/503 with a JSON error body; anything else not 2xx is the transport's.
    let body: unknown;
    try {
        body = JSON.parse(text);
    } catch {
        return { kind: "error", message: response.ok ? "the response is not JSON" : describeStatus(response.status, text) };
    }
    if (!response.ok && (body as { status?: unknown })?.status !== "error") return { kind: "error", message: describeStatus(response.status, text) };
    return parseQueryResponse(body);
}

/** Whether a query URL is Google's (Managed Service for Prometheus): it takes Application Default Credentials. */
export function isGoogleEndpoint(url: string): boolean {
    try {
        return /(^|\.)googleapis\.com$/.test(new URL(url).hostname);
    } catch {
        return false;
    }
}

/** The OAuth scope that reads Cloud Monitoring (Managed Prometheus queries included). */
export const MONITORING_READ_SCOPE = "https://www.googleapis.com/auth/monitoring.read";

/**
 * An Authorization header from Application Default Credentials (a user's `gcloud auth
 * application-default login`, a service account key, the external-account file the GitHub auth
 * action writes, or the metadata server). google-auth-library is an optional peer: loaded only
 * when a Google endpoint is queried, so a workload-only program never needs it.
 */
export function applicationDefaultCredentials(load: (name: string) => any = require): () => Promise<Record<string, string>> {
    let auth: { getRequestHeaders(): Promise<unknown> } | undefined;
    return async () => {
        if (!auth) {
            let library: any;
            try {
                library = load("google-auth-library");
            } catch {
                throw new Error("google-auth-library is not installed; install it next to this package (npm install google-auth-library) to query Managed Prometheus");
            }
            auth = new library.GoogleAuth({ scopes: [MONITORING_READ_SCOPE] });
        }
        const headers = await auth!.getRequestHeaders();
        // Version 10 and later return a fetch Headers object; earlier ones a plain object.
        const authorization = typeof (headers as Headers).get === "function" ? (headers as Headers).get("authorization") : (headers as Record<string, string>).Authorization;
        if (!authorization) throw new Error("Application Default Credentials gave no Authorization header");
        return { authorization };
    };
}
