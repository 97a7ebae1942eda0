import CRMPluginKit

/// The knowledge base's search engine on SQLite FTS5: one row per article
/// with its title, body and a `facets` column of filter tokens (c<category>,
/// a<author as hex>) that queries reach only through `facets : (...)`, so a
/// user's words never match one. Ranking is FTS5's bm25 with title 10,
/// body 1 and facets 0 (a filter token adds nothing), kept as the table's
/// `rank` setting.
///
/// The state is in the rowid: `class << 40 | article id`, classes in the
/// order readers' sets nest (PUBLISHED 1, INTERNAL 2, DRAFT 3, ARCHIVED 4).
/// So "what this reader may see" is a rowid range, which FTS5 applies
/// while it walks the index and before it ranks. Measured at 100,000
/// articles: a filter token in the MATCH instead (ANDing one held by most
/// articles, or NOTing the rest) cost 10-20 times the terms alone; a
/// range costs nothing. A writer limited to some authors' drafts adds a
/// query over the draft range with the authors' tokens (short lists), and
/// the pages of the ranges merge by score: one table, so one set of bm25
/// statistics, and scores compare.
struct Fts5ArticleIndex: ArticleSearchIndex {
    static let table = "service_kb_fts"
    /// Article ids below 2^40 (a trillion) fit beside the class.
    static let classShift: Int64 = 40
    static let idMask: Int64 = (1 << classShift) - 1

    var schemaSQL: String {
        """
        CREATE VIRTUAL TABLE \(Self.table) USING fts5(title, body, facets, tokenize = 'unicode61 remove_diacritics 2');
        INSERT INTO \(Self.table) (\(Self.table), rank) VALUES ('rank', 'bm25(10.0, 1.0, 0.0)');
        """
    }

    static func stateClass(_ state: ArticleState) -> Int64 {
        switch state {
        case .published: return 1
        case .internal: return 2
        case .draft: return 3
        default: return 4
        }
    }

    static func rowid(_ id: Int64, _ state: ArticleState) -> Int64 { stateClass(state) << classShift | id }

    func put(_ db: Database, _ a: IndexedArticle) throws {
        guard a.id > 0, a.id <= Self.idMask else {
            throw PluginError.failedPrecondition("article \(a.id) is beyond what the search index can hold (ids up to 2^40)")
        }
        try remove(db, id: a.id)
        var facets = ["c\(a.categoryID)"]
        if !a.author.isEmpty { facets.append(Self.authorToken(a.author)) }
        try db.execute("INSERT INTO \(Self.table) (rowid, title, body, facets) VALUES (?, ?, ?, ?)",
                       [.integer(Self.rowid(a.id, a.state)), .text(a.title), .text(a.body), .text(facets.joined(separator: " "))])
    }

    func remove(_ db: Database, id: Int64) throws {
        guard id > 0, id <= Self.idMask else { return }
        try db.execute("DELETE FROM \(Self.table) WHERE rowid IN (?, ?, ?, ?)",
                       [ArticleState.published, .internal, .draft, .archived].map { .integer(Self.rowid(id, $0)) })
    }

    /// One rowid range to search, with what the MATCH adds to the terms.
    struct Part {
        var classes: ClosedRange<Int64>
        var filter: String
    }

    /// The ranges of the classes a query may see: runs of open classes,
    /// and the author-limited ones with the authors' tokens.
    static func parts(_ q: ArticleQuery) -> [Part] {
        let open = q.states.filter { q.authors == nil || $0 == .published || $0 == .internal }.map(stateClass).sorted()
        var parts: [Part] = []
        for c in open {
            if let last = parts.last, last.classes.upperBound == c - 1 {
                parts[parts.count - 1].classes = last.classes.lowerBound...c
            } else {
                parts.append(Part(classes: c...c, filter: ""))
            }
        }
        if let authors = q.authors, !authors.isEmpty {
            let authored = q.states.subtracting([.published, .internal]).map(stateClass).sorted()
            let byAuthors = " AND facets : (\(authors.map(authorToken).joined(separator: " OR ")))"
            for c in authored {
                if let last = parts.last, !last.filter.isEmpty, last.classes.upperBound == c - 1 {
                    parts[parts.count - 1].classes = last.classes.lowerBound...c
                } else {
                    parts.append(Part(classes: c...c, filter: byAuthors))
                }
            }
        }
        return parts
    }

    func search(_ db: Database, _ q: ArticleQuery) throws -> [ArticleSearchHit] {
        let terms = "{title body} : (\(Self.render(q.query)))"
        let category = q.categoryID != 0 ? " AND facets : c\(q.categoryID)" : ""
        var hits: [ArticleSearchHit] = []
        for part in Self.parts(q) {
            var sql = "SELECT rowid, rank FROM \(Self.table) WHERE \(Self.table) MATCH ? AND rowid >= ? AND rowid < ?"
            var parameters: [SQLValue] = [.text("(\(terms))" + part.filter + category),
                                          .integer(part.classes.lowerBound << Self.classShift),
                                          .integer((part.classes.upperBound + 1) << Self.classShift)]
            if let after = q.after {
                // rank is FTS5's: lower is better; the score is its negation.
                sql += " AND (rank > ? OR (rank = ? AND rowid > ?))"
                parameters += [.real(-after.score), .real(-after.score), .integer(after.position)]
            }
            sql += " ORDER BY rank, rowid LIMIT ?"
            parameters.append(.integer(Int64(q.limit)))
            hits += try db.query(sql, parameters).map {
                ArticleSearchHit(id: $0.int(0) & Self.idMask, score: -($0[1].double ?? 0), position: $0.int(0))
            }
        }
        hits.sort { $0.score != $1.score ? $0.score > $1.score : $0.position < $1.position }
        hits = Array(hits.prefix(q.limit))
        if let marks = q.highlight, !hits.isEmpty {
            // Marked up only for the page: snippet() over every match would
            // cost what ranking them does.
            let rowids = hits.map { SQLValue.integer($0.position) }
            let rows = try db.query("""
                SELECT rowid, highlight(\(Self.table), 0, ?, ?), snippet(\(Self.table), 1, ?, ?, '…', 24)
                FROM \(Self.table) WHERE \(Self.table) MATCH ? AND rowid IN (\(rowids.map { _ in "?" }.joined(separator: ", ")))
                """, [.text(marks.start), .text(marks.end), .text(marks.start), .text(marks.end), .text(terms)] + rowids)
            var marked: [Int64: (String, String)] = [:]
            for row in rows { marked[row.int(0)] = (row.text(1), row.text(2)) }
            for i in hits.indices {
                if let m = marked[hits[i].position] { hits[i].titleHighlight = m.0; hits[i].snippet = m.1 }
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

    /// A CRM user name as one token: hex of its bytes (names hold . _ -,
    /// which the tokenizer would split on).
    static func authorToken(_ name: String) -> String {
        let hex = Array("0123456789abcdef")
        return "a" + String(name.utf8.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0xF)]] })
    }
}
