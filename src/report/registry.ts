/**
 * The built-in report of each pipeline in pipelines/, by pipeline name: used when a pipeline file
 * has no `report` export of its own. Its own module so that the reports can share the helpers of
 * lth-reports.ts without an import cycle.
 */
import type { ReportDefinition } from './spec.js';
import { impReport, lateResetReport } from './lth-reports.js';
import { ticketTransferReport } from './ticket-transfer-report.js';
import { pruneAtInitReport } from './prune-at-init-report.js';
import { strongTicketsReport } from './strong-tickets-report.js';
import { earlyBirdReport } from './early-bird-report.js';
import { grokkingTicketsReport } from './grokking-tickets-report.js';
import { elasticTicketsReport } from './elastic-tickets-report.js';

export const LTH_REPORTS: Readonly<Record<string, ReportDefinition>> = {
  'lenet-mnist-imp': impReport,
  'conv-cifar-imp': impReport,
  'resnet18-late-reset': lateResetReport,
  'ticket-transfer': ticketTransferReport,
  'prune-at-init': pruneAtInitReport,
  'strong-tickets': strongTicketsReport,
  'early-bird': earlyBirdReport,
  'grokking-tickets': grokkingTicketsReport,
  'elastic-tickets': elasticTicketsReport,
};
