"""The real-time missile-warning feed: labelled, signed tracks at thousands of messages a second.

    wire          the track messages' compact CBOR form; a stream's label travels once, messages name its digest
    cot           Cursor-on-Target ⇄ messages, for TAK clients (hardened parsing)
    trajectory    a simulated ballistic launch into the Sea of Japan, deterministic per seed
    sequence      per-stream gap / duplicate / staleness tracking on the receiving side
    replay        the sender's bounded replay buffer (optionally persisted, written behind)
    batch_signing the wire format of a signed batch; its signature is crypto.sign_batch (crypto/batches.py)
    dissemination per-recipient policy gates (release, relay with T5 consent, receipt, read)
    hop_audit     what the gates decided, counted per stream and interval for the audit trail
    broker        in-process pub/sub; nats_broker: the same over NATS JetStream
    link          the per-connection protocol (hello, signed batches, replay requests)
    peers         who a node takes batches from, the admission a running node adds, consents as control
    node          a feed node: WebSocket server, peer links, policy per hop
    subscriber    a subscriber's verifying, gap-repairing end
    cot_listener  CoT over TCP/TLS on a node, originating through the same use case as HTTP
    pipeline      the loopback chain sensor → KOR → USA hub → JPN → subscriber (demo, tests, benchmark)
    served        the feed inside a running node (`gsomia serve`): its transports wired to the services
    served_audit  a running node's per-hop decisions handed to the audit trail, off the hot path

The messages themselves are plain data of the domain (`gsomia.domain.tracks`); the feed's use cases
(originating a stream, admitting partners and subscribers, which consents go where, which streams an
official sees, the register re-read, the hops' audit) are services (`gsomia.services.feed`, `feed_links`,
`feed_audit`), called by these transports and by the API.

Modules are imported by name; this package imports nothing itself, so using `wire` or `cot` does not
pull in websockets or NATS.
"""
