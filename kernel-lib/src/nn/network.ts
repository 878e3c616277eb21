/**
 * The variable-owning module base: a network with named weights (for checkpoints), a parameter count and
 * dispose(). Used by the GAN (notebooks/05-gan.ipynb) and the models built on it.
 */
import * as tf from "@tensorflow/tfjs";

/** A network with its own variables: what the GAN trainer needs of a generator or a discriminator. */
export interface Network {
  /** Prefix of its weight names ("G", "D"). */
  readonly name: string;
  /** Its input size per example (flattened). */
  readonly inputSize: number;
  /** Its output shape per example ([2], [28, 28, 1], [1]). */
  readonly outputShape: number[];
  /** Trainable variables, for an optimizer's var list. */
  readonly variables: tf.Variable[];
  /** Forward pass on a batch. */
  apply(x: tf.Tensor): tf.Tensor;
  /** The weights by name ("G/dense0/kernel"), for checkpoints. Not copies: do not dispose them. */
  namedWeights(): Record<string, tf.Tensor>;
  /** Assigns weights saved by {@link namedWeights} (checks every name and shape). */
  loadWeights(weights: Record<string, tf.Tensor>): void;
  /** Number of trainable numbers. */
  parameterCount(): number;
  /** Frees the variables. */
  dispose(): void;
}

export abstract class VariableNetwork implements Network {
  readonly variables: tf.Variable[] = [];
  private readonly byName = new Map<string, tf.Variable>();
  abstract readonly inputSize: number;
  abstract readonly outputShape: number[];
  constructor(readonly name: string) {}

  protected addVariable(local: string, init: tf.Tensor): tf.Variable {
    const full = `${this.name}/${local}`;
    const v = tf.variable(init, true, `${full}-${VariableNetwork.counter++}`);
    init.dispose();
    this.variables.push(v);
    this.byName.set(full, v);
    return v;
  }
  private static counter = 0;

  abstract apply(x: tf.Tensor): tf.Tensor;

  namedWeights(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.byName);
  }

  loadWeights(weights: Record<string, tf.Tensor>): void {
    const names = [...this.byName.keys()];
    const missing = names.filter((n) => !(n in weights));
    if (missing.length) throw new Error(`${this.name}: checkpoint lacks ${missing.join(", ")}`);
    for (const n of names) {
      const v = this.byName.get(n)!;
      const w = weights[n]!;
      if (w.shape.join(",") !== v.shape.join(",")) throw new Error(`${this.name}: weight ${n} has shape [${w.shape}], the network needs [${v.shape}]`);
      v.assign(w);
    }
  }

  parameterCount(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    tf.dispose(this.variables);
    this.variables.length = 0;
    this.byName.clear();
  }
}
