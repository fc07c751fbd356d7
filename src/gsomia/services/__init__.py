"""Use cases, one transaction each; every one takes a Node and an authenticated Actor.

    officials   the register of cleared officials (R6.e, R7), tokens, authenticate()
    items       the item registry (R6.f): originate, receive, release, receipt, copy, custody, destroy
    audit       record_decision, checkpoint, verify_store / verify_export, export, tail
    audit_log   append(): how every use case writes its audit entry inside its own transaction
    audit_chain the pure hash chain: canonical encoding, checkpoint payload, the verifier
    node        open a node's store from its settings; create its database
    feed        the missile-warning feed: a stream originated (every way in), the streams an official may
                see, the register re-read, the replay store; feed_links: who may connect, which consents
                go to which partner; feed_audit: the hops' decisions in the audit trail
"""
