// The Pulumi program: reads the stack configuration and composes the components.
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenEnvironment, readStackConfig } from "./components";

export = async () => {
    const projectConfig = new pulumi.Config();
    // Bare keys are this project's settings; qualified ones (gcp:project) belong to providers.
    const get = (key: string) => {
        const [namespace, name] = key.includes(":") ? key.split(":", 2) : [undefined, key];
        return namespace ? new pulumi.Config(namespace).get(name) : projectConfig.get(name);
    };
    // Validates every setting before any resource is declared.
    const { environment } = readStackConfig(get, pulumi.getStack());
    const env = new BlueGreenEnvironment("bluegreen", environment);

    return {
        clusterName: env.clusterName,
        kubeconfig: env.kubeconfig,
        ingressAddress: env.ingressAddress,
        istioVersion: env.istioVersion,
        activeColor: env.activeColor,
        idleColor: env.idleColor,
        curlCommands: env.curlCommands,
    };
};
