import CRMPluginKit

/// The knowledge base's search engine on SQLite FTS5: one row per article
/// (rowid = article id) with its title, body and a `facets` column of
/// filter tokens (s<state>, c<category>, a<author as hex>) that queries
/// reach only through `facets : (...)`, so a user's words never match
/// one. The filters are part of the MATCH, inside the full-text index,
/// which is why no join with the article table is needed to rank a page.
/// Ranking is FTS5's bm25 with title 10, body 1 and facets 0 (a filter
/// token adds nothing to the score), kept as the table's `rank` setting.
struct Fts5ArticleIndex: ArticleSearchIndex {
    static let table = "service_kb_fts"

    var schemaSQL: String {
        """
        CREATE VIRTUAL TABLE \(Self.table) USING fts5(title, body, facets, tokenize = 'unicode61 remove_diacritics 2');
        INSERT INTO \(Self.table) (\(Self.table), rank) VALUES ('rank', 'bm25(10.0, 1.0, 0.0)');
        """
    }

    func put(_ db: Database, _ a: IndexedArticle) throws {
        try remove(db, id: a.id)
        var facets = ["s\(a.state.rawValue)", "c\(a.categoryID)"]
        if !a.author.isEmpty { facets.append(Self.authorToken(a.author)) }
        try db.execute("INSERT INTO \(Self.table) (rowid, title, body, facets) VALUES (?, ?, ?, ?)",
                       [.integer(a.id), .text(a.title), .text(a.body), .text(facets.joined(separator: " "))])
    }

    func remove(_ db: Database, id: Int64) throws {
        try db.execute("DELETE FROM \(Self.table) WHERE rowid = ?", [.integer(id)])
    }

    func search(_ db: Database, _ q: ArticleQuery) throws -> [ArticleSearchHit] {
        let terms = "{title body} : (\(Self.render(q.query)))"
        guard let match = Self.expression(q, terms: terms) else { return [] }
        var sql = "SELECT rowid, rank FROM \(Self.table) WHERE \(Self.table) MATCH ?"
        var parameters: [SQLValue] = [.text(match)]
        if let after = q.after {
            // rank is FTS5's: lower is better; the score is its negation.
            sql += " AND (rank > ? OR (rank = ? AND rowid > ?))"
            parameters += [.real(-after.score), .real(-after.score), .integer(after.id)]
        }
        sql += " ORDER BY rank, rowid LIMIT ?"
        parameters.append(.integer(Int64(q.limit)))
        var hits = try db.query(sql, parameters).map { ArticleSearchHit(id: $0.int(0), score: -($0[1].double ?? 0)) }
        if let marks = q.highlight, !hits.isEmpty {
            // Marked up only for the page: snippet() over every match would
            // cost what ranking them does.
            let ids = hits.map { SQLValue.integer($0.id) }
            let rows = try db.query("""
                SELECT rowid, highlight(\(Self.table), 0, ?, ?), snippet(\(Self.table), 1, ?, ?, '…', 24)
                FROM \(Self.table) WHERE \(Self.table) MATCH ? AND rowid IN (\(ids.map { _ in "?" }.joined(separator: ", ")))
                """, [.text(marks.start), .text(marks.end), .text(marks.start), .text(marks.end), .text(terms)] + ids)
            var marked: [Int64: (String, String)] = [:]
            for row in rows { marked[row.int(0)] = (row.text(1), row.text(2)) }
            for i in hits.indices {
                if let m = marked[hits[i].id] { hits[i].titleHighlight = m.0; hits[i].snippet = m.1 }
            }
        }
        return hits
    }

    /// FTS5 syntax for parsed terms: every word a quoted string (words
    /// are letters and digits only, so nothing inside needs escaping).
    static func render(_ text: SearchText) -> String {
        text.terms.map { term -> String in
            switch term {
            case .word(let w, let prefix): return "\"\(w)\"" + (prefix ? "*" : "")
            case .phrase(let words): return "\"" + words.joined(separator: " ") + "\""
            }
        }.joined(separator: text.any ? " OR " : " ")
    }

    /// The terms with the state, author and category filters, or nil when
    /// no state is left to find. Measured at 100,000 articles: ANDing a
    /// filter token held by most articles (PUBLISHED's) makes FTS5 walk its
    /// whole posting list, 10-100 times the cost of the terms alone, while
    /// a NOT of the few excluded states costs little. So a filter that lets
    /// PUBLISHED through excludes what it must; one that does not (a
    /// writer's drafts, archived) names what it keeps, a short list.
    static func expression(_ q: ArticleQuery, terms: String) -> String? {
        let authors = q.authors ?? []
        let open = q.states.filter { q.authors == nil || $0 == .published || $0 == .internal }
        let authored = authors.isEmpty ? [] : q.states.subtracting(open)
        guard !open.isEmpty || !authored.isEmpty else { return nil }
        func states(_ set: Set<ArticleState>) -> String { set.map { "s\($0.rawValue)" }.sorted().joined(separator: " OR ") }
        let byAuthors = "facets : (\(authors.map(authorToken).joined(separator: " OR ")))"
        var expression = "(\(terms))"
        if open.contains(.published) {
            let excluded = Set<ArticleState>([.draft, .internal, .published, .archived]).subtracting(open).subtracting(authored)
            if !excluded.isEmpty { expression = "(\(expression) NOT facets : (\(states(excluded))))" }
            if !authored.isEmpty { expression = "(\(expression) NOT (facets : (\(states(authored))) NOT \(byAuthors)))" }
        } else {
            var kept: [String] = []
            if !open.isEmpty { kept.append("facets : (\(states(open)))") }
            if !authored.isEmpty { kept.append("(facets : (\(states(authored))) AND \(byAuthors))") }
            expression = "(\(expression) AND (\(kept.joined(separator: " OR "))))"
        }
        if q.categoryID != 0 { expression = "(\(expression) AND facets : c\(q.categoryID))" }
        return expression
    }

    /// A CRM user name as one token: hex of its bytes (names hold . _ -,
    /// which the tokenizer would split on).
    static func authorToken(_ name: String) -> String {
        "a" + name.utf8.map { byte in
            let hex = Array("0123456789abcdef")
            return String([hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        }.joined()
    }
}
