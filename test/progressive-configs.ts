// Stack configurations exercising the progressive-delivery settings, shared by the schema and
// policy suites.
export const PROGRESSIVE_CONFIGS: Record<string, Record<string, string>> = {
    "a canary split, targeted users and TLS with cert-manager": {
        trafficWeights: "blue=90,green=10",
        targetedRoutes: JSON.stringify(["green:header:x-internal-user=true", "green:cookie:beta=opt-in", "green:source:app=checkout", "blue:header-regex:x-user=^legacy-.*$"]),
        tlsCredentialName: "sample-hoge-com-tls",
        httpsRedirect: "true",
        certIssuer: "letsencrypt-prod",
        installCertManager: "true",
    },
    "mirroring to the idle color with a parked-down idle size": {
        activeColor: "green",
        mirrorToIdle: "20",
        idleReplicas: "1",
        routeTimeout: "30s",
        retryAttempts: "3",
    },
};
