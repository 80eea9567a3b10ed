/**
 * LeNet-300-100 trained as Frankle & Carbin do (batch 60, Adam 1.2e-3) on a real dataset's files,
 * on the WASM backend: the accuracy tests' one recipe.
 */
import { initBackend } from '../../src/nn/backend.js';
import { loadDataset } from '../../src/nn/data/index.js';
import { createModel } from '../../src/nn/models/index.js';
import { evaluate, train, type TrainResult } from '../../src/nn/train.js';

export async function trainLenet(dataset: string, dir: string, iterations: number): Promise<{ testAccuracy: number; result: TrainResult }> {
  await initBackend('wasm');
  const data = await loadDataset(dataset, { path: dir, download: false, log: () => undefined });
  const model = createModel('lenet300100', { seed: 0 });
  const result = await train({
    model,
    data,
    weights: model.init(),
    batchSize: 60,
    budget: `${iterations}it`,
    optimizer: { type: 'adam' },
    schedule: { lr: 1.2e-3 },
    dataSeed: 0,
    evalEvery: 1000,
  });
  return { testAccuracy: (await evaluate(model, result.weights, data, 'test')).accuracy, result };
}
