/**
 * `conversations()`: the feature that gives a client `client.conversation(id)` (KV-aware chats,
 * DESIGN.md section 8) and the replica balancer their affinity uses.
 *
 * Imports: conversation (the Conversation, its host contract, the replica balancer), ./features (types).
 */
import { Conversation, type ConversationHost } from '../conversation/conversation.js';
import { ReplicaBalancer } from '../conversation/replicas.js';
import type { ClientFeature } from './features.js';

/** Conversations for the lean client (`inferlane/core`); the full preset has them on. */
export function conversations(): ClientFeature {
  return {
    name: 'conversations',
    install(host) {
      const replicas = new ReplicaBalancer({ now: () => host.clock.now() });
      // What a conversation uses of its client: the client itself, with this feature's replicas.
      const conversationHost: ConversationHost = {
        generate: (request) => host.generate(request),
        stream: (request) => host.stream(request),
        targets: host.targets,
        replicas,
        store: host.store,
        now: () => host.now(),
        explain: (request) => host.explain(request),
        beginTurn: () => host.beginTurn(),
        endTurn: () => host.endTurn(),
      };
      return { replicas, conversation: (id, options) => new Conversation(conversationHost, id, options) };
    },
  };
}
