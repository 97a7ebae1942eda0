import CRMPluginKit
import ServiceContract

/// Publishing and archiving: which revision is live, and for whom.
enum ArticlePublishing {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "PublishArticle", publish)
        def.unary(Service.service + "ArchiveArticle", archive)
    }

    /// The article a publish or archive acts on: seen by the caller, its
    /// author in their service.article.publish scope, at the expected version.
    private static func target(_ ctx: CallContext, _ store: ArticleStore, _ id: Int64, expected: Int64) throws -> Article {
        let a = try store.require(id, "id", ArticleAccess(ctx))
        guard ctx.scope.includes(owner: ownerOrNil(a.author)) else {
            throw PluginError(.permissionDenied, "id: article \(a.id) is outside your record scope")
        }
        try Validate.expectedVersion(expected, a.version, noun: "article \(a.id)")
        return a
    }

    /// An idempotent retry: the article as it is now, if the caller still sees it.
    private static func retried(_ ctx: CallContext, _ store: ArticleStore, _ id: Int64, method: String, key: String) throws -> Article {
        guard let a = try store.load(id), ArticleAccess(ctx).sees(a.state, author: a.author) else {
            throw IdempotencyKeys.mismatch(method: method, key: key)
        }
        return a
    }

    static func publish(_ ctx: CallContext, _ req: Crm_Service_V1_PublishArticleRequest) throws -> Article {
        let db = try ctx.database
        let store = ArticleStore(db: db)
        let (previous, claim) = try Service.idempotency.check(db, method: "PublishArticle", req, key: \.idempotencyKey)
        if let id = previous { return try retried(ctx, store, id, method: "PublishArticle", key: req.idempotencyKey) }
        try Validate.positiveID(req.id, "id")
        guard req.state == .internal || req.state == .published else {
            throw PluginError.invalidArgument(req.state == .unspecified ? "state is required (ARTICLE_STATE_INTERNAL or ARTICLE_STATE_PUBLISHED)"
                                              : "state: an article is published as ARTICLE_STATE_INTERNAL or ARTICLE_STATE_PUBLISHED")
        }
        guard req.revision >= 0 else { throw PluginError.invalidArgument("revision must not be negative, not \(req.revision)") }
        let before = try target(ctx, store, req.id, expected: req.expectedVersion)
        let number = req.revision == 0 ? before.revision : req.revision
        guard number <= before.revision, try store.revision(before.id, number) != nil else {
            throw PluginError.notFound("revision: article \(before.id) has no revision \(number) (its latest is \(before.revision))")
        }
        var a = before
        a.state = req.state
        a.liveRevision = number
        if a != before {
            let now = UTCClock.nowMicros()
            a.version += 1
            a.updatedUnixUs = now
            a.publishedUnixUs = now
            a.archivedUnixUs = 0
            try store.save(a)
            try store.reindex(a)
            try ArticleAudit.article(ctx, "publish", old: before, new: a)
            try ArticleAudit.publish(ctx, "published", a, before)
        }
        try Service.idempotency.record(db, claim, resultID: a.id)
        return a
    }

    static func archive(_ ctx: CallContext, _ req: Crm_Service_V1_ArchiveArticleRequest) throws -> Article {
        let db = try ctx.database
        let store = ArticleStore(db: db)
        let (previous, claim) = try Service.idempotency.check(db, method: "ArchiveArticle", req, key: \.idempotencyKey)
        if let id = previous { return try retried(ctx, store, id, method: "ArchiveArticle", key: req.idempotencyKey) }
        let before = try target(ctx, store, req.id, expected: req.expectedVersion)
        var a = before
        if a.state != .archived {
            let now = UTCClock.nowMicros()
            a.state = .archived
            a.version += 1
            a.updatedUnixUs = now
            a.archivedUnixUs = now
            try store.save(a)
            try store.reindex(a)
            try ArticleAudit.article(ctx, "archive", old: before, new: a)
            try ArticleAudit.publish(ctx, "archived", a, before)
        }
        try Service.idempotency.record(db, claim, resultID: a.id)
        return a
    }
}

/// The knowledge base's audit entries and events.
enum ArticleAudit {
    /// service.article: one entry per write, owner the author. The body is
    /// recorded as it changes, as ticket descriptions are.
    static func article(_ ctx: CallContext, _ action: String, old: Article?, new: Article) throws {
        func fields(_ a: Article?) -> [String: String] {
            guard let a else { return [:] }
            var out = ["title": a.title, "state": ArticleStates.name(a.state), "revision": String(a.revision)]
            if !a.body.isEmpty { out["body"] = a.body }
            if a.categoryID != 0 { out["category_id"] = String(a.categoryID) }
            if a.liveRevision != 0 { out["live_revision"] = String(a.liveRevision) }
            return out
        }
        try ctx.audit(AuditEntry(entity: "service.article", recordID: String(new.id), action: action, owner: ownerOrNil(new.author),
                                 changes: FieldChange.between(old: fields(old), new: fields(new))))
    }

    /// service.article.published / archived. An article is about no
    /// person, so the event has no About (and no record subject: the
    /// stream's read_permission, service.article.read_internal, decides
    /// who gets it, as articles are shared content, not owned records).
    static func publish(_ ctx: CallContext, _ action: String, _ a: Article, _ before: Article) throws {
        var event = Crm_Service_V1_ArticleEvent()
        event.article = a
        event.article.body = ""
        event.previousState = before.state
        event.previousLiveRevision = before.liveRevision
        _ = try ctx.publish("service.article.\(action)", event)
    }
}

enum ArticleStates {
    static func name(_ s: ArticleState) -> String {
        switch s {
        case .draft: return "DRAFT"
        case .internal: return "INTERNAL"
        case .published: return "PUBLISHED"
        case .archived: return "ARCHIVED"
        default: return ""
        }
    }
}
