/**
 * The one way this node subscribes: a message that makes its handler throw (anything may arrive
 * from the network: a foreign client, another version, a bug) is logged and dropped. A throw must
 * never reach the NATS client: it would end the connection's read loop, and the node would go
 * deaf — seeing every other node down — while its connection still looked open.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export type Listen = (subject: string, onMessage: (msg: Msg) => void) => Subscription;

export function listener(nc: NatsConnection, log: Logger, closing: () => boolean): Listen {
  return (subject, onMessage) =>
    nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null) {
          if (!closing()) log.warn({ err: error, subject }, 'cluster subscription failed');
          return;
        }
        try {
          onMessage(msg);
        } catch (fault) {
          log.warn({ err: fault, subject: msg.subject }, 'a malformed cluster message dropped');
        }
      },
    });
}
