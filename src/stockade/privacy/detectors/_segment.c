/*
 * stockade.privacy.detectors._segment: the privacy detectors' hottest per-candidate steps in C.
 *
 *   Segmenter      the name detector's word-boundary search (lexicon._boundary_list_python) and
 *                  jieba's dictionary (lexicon.word), over tables cached as bytes (dump/load);
 *   NameChecker    the name detector's check of a candidate (person._check_name_python), where
 *                  a name that starts at a place ends (person._name_at_python), and its scans for
 *                  candidates (PersonDetector._after_context, _before_titles, _after_weak_context,
 *                  _standalone: collect_context, collect_loose) and its choice among them
 *                  (PersonDetector._resolve_python: resolve);
 *   grouped_candidates  the slices of digit groups the grouped-number detector tries
 *                  (grouped._candidates_python, less those no check could accept);
 *   fold_chars, fold_numerals  the two rewrites of the detectors' normalised view
 *                  (_base._fold_chars_python, _base._fold_numerals_python);
 *   record_extras  the search of record-level consistency: every other occurrence, in a record's
 *                  texts, of a value found in one of them (record._spread_values_python).
 *
 * Written by hand because no library does these exact jobs: jieba's maximum-probability path
 * (``jieba.cut(HMM=False)``) over a window of a dozen characters around each name candidate, and the
 * rules around it, asked thousands of times per megabyte of bank text. Each Python version is the
 * reference: tests hold the C code to it (tests/privacy/test_native_segment.py), and it is what runs
 * where this module was not built (it is optional) or STOCKADE_NATIVE=off.
 *
 * The tables are the lexicon's own (``lexicon._built``), copied into plain C hash tables keyed by
 * code points, so a look-up allocates no Python string. Scores are the same IEEE doubles added in the
 * same order as in Python (built with -ffp-contract=off), so every comparison, ties included, comes
 * out the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CJK_FIRST 0x4E00
#define CJK_LAST 0x9FFF
#define CJK_COUNT (CJK_LAST - CJK_FIRST + 1)
#define IS_CJK(c) ((c) >= CJK_FIRST && (c) <= CJK_LAST)
#define MAX_WORD 5 /* the lexicon scores words of up to five characters */

/* Two-character entries: the score of the word (if it is one) and whether a word of three to five
 * characters starts with these two (jieba looks further only then). */
typedef struct {
    uint32_t key; /* (first << 16) | second; 0 = empty slot */
    uint8_t is_word;
    uint8_t starts_longer;
    double logp;
} PairSlot;

/* Words of three to five characters: code points minus CJK_FIRST (15 bits each) packed in two
 * words. */
typedef struct {
    uint64_t low;  /* characters 0..3, 16 bits each */
    uint64_t high; /* character 4 (or 0) | length << 16; 0 = empty slot */
    double logp;
} WordSlot;

/* The dictionary (lexicon.word): every word (of the Basic Multilingual Plane: all of jieba's), any
 * length, with its frequency and whether it is tagged nr (person) or ns (place); the characters are
 * in one pool. */
typedef struct {
    uint64_t hash; /* 0 = empty slot */
    uint32_t offset;
    uint16_t length;
    uint8_t tag; /* TAG_* */
    uint8_t unused;
    int64_t freq;
} DictSlot;

#define TAG_OTHER 0
#define TAG_NR 1
#define TAG_NS 2

typedef struct {
    PyObject_HEAD
    double single[CJK_COUNT];
    PairSlot *pairs;
    size_t pair_mask;
    WordSlot *words;
    size_t word_mask;
    DictSlot *dict; /* NULL: built without the dictionary */
    size_t dict_mask;
    uint16_t *pool;
    size_t pool_len;
} Segmenter;


static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t table_size(Py_ssize_t entries) {
    size_t size = 1024;
    while (size < (size_t)entries * 2 + 1) size <<= 1;
    return size;
}

static inline uint64_t hash_chars(int kind, const void *data, Py_ssize_t a, Py_ssize_t z) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the code points, then mixed */
    for (Py_ssize_t j = a; j < z; j++) {
        h ^= (uint64_t)PyUnicode_READ(kind, data, j);
        h *= 0x100000001b3ULL;
    }
    h = mix(h ^ (uint64_t)(z - a));
    return h ? h : 1;
}

static DictSlot *dict_slot(const Segmenter *self, uint64_t hash, int kind, const void *data, Py_ssize_t a,
                           Py_ssize_t z) {
    size_t i = (size_t)hash & self->dict_mask;
    for (;;) {
        DictSlot *slot = &self->dict[i];
        if (slot->hash == 0) return slot;
        if (slot->hash == hash && slot->length == (uint16_t)(z - a)) {
            const uint16_t *chars = self->pool + slot->offset;
            Py_ssize_t j = 0;
            while (j < z - a && chars[j] == PyUnicode_READ(kind, data, a + j)) j++;
            if (j == z - a) return slot;
        }
        i = (i + 1) & self->dict_mask;
    }
}

/* The dictionary entry of text[a:z], all of the BMP, or NULL. */
static const DictSlot *find_dict(const Segmenter *self, int kind, const void *data, Py_ssize_t a, Py_ssize_t z) {
    if (z - a < 1 || z - a > 0xFFFF) return NULL; /* (callers check all_bmp) */
    const DictSlot *slot = dict_slot(self, hash_chars(kind, data, a, z), kind, data, a, z);
    return slot->hash ? slot : NULL;
}

static int tag_code(PyObject *tag) {
    if (!PyUnicode_Check(tag)) {
        PyErr_SetString(PyExc_TypeError, "words: tags must be str");
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(tag, "nr") == 0) return TAG_NR;
    if (PyUnicode_CompareWithASCIIString(tag, "ns") == 0) return TAG_NS;
    return TAG_OTHER;
}

/* Whether text[a:z] is all in the Basic Multilingual Plane (what the dictionary's pool can hold). */
static int all_bmp(int kind, const void *data, Py_ssize_t a, Py_ssize_t z) {
    if (kind != PyUnicode_4BYTE_KIND) return 1;
    for (Py_ssize_t j = a; j < z; j++)
        if (PyUnicode_READ(kind, data, j) > 0xFFFF) return 0;
    return 1;
}

/* The dictionary's words into the C table (words: str -> (frequency, tag)); a word with a character
 * beyond U+FFFF (jieba has none) is left to Python (NameChecker's ``word``). */
static int build_dict(Segmenter *self, PyObject *words) {
    PyObject *key, *value;
    Py_ssize_t pos = 0, count = 0, chars = 0;
    while (PyDict_Next(words, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "words: keys must be str");
            return -1;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(key); /* (the pool is uint16: BMP code points) */
        if (n >= 1 && n <= 0xFFFF && all_bmp(PyUnicode_KIND(key), PyUnicode_DATA(key), 0, n)) {
            count++;
            chars += n;
        }
    }
    if (chars > 0x7FFFFFFF) {
        PyErr_SetString(PyExc_ValueError, "words: too many characters");
        return -1;
    }
    self->dict_mask = table_size(count) - 1;
    self->dict = PyMem_Calloc(self->dict_mask + 1, sizeof(DictSlot));
    self->pool = PyMem_Malloc((size_t)(chars ? chars : 1) * sizeof(uint16_t));
    if (self->dict == NULL || self->pool == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->pool_len = 0;
    pos = 0;
    while (PyDict_Next(words, &pos, &key, &value)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(key);
        int kind = PyUnicode_KIND(key);
        const void *data = PyUnicode_DATA(key);
        if (n < 1 || n > 0xFFFF || !all_bmp(kind, data, 0, n)) continue;
        if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2) {
            PyErr_SetString(PyExc_TypeError, "words: values must be (frequency, tag) tuples");
            return -1;
        }
        long long freq = PyLong_AsLongLong(PyTuple_GET_ITEM(value, 0));
        if (freq == -1 && PyErr_Occurred()) return -1;
        int tag = tag_code(PyTuple_GET_ITEM(value, 1));
        if (tag < 0) return -1;
        uint64_t hash = hash_chars(kind, data, 0, n);
        DictSlot *slot = dict_slot(self, hash, kind, data, 0, n);
        if (slot->hash == 0) { /* (a dict has no duplicate keys) */
            slot->hash = hash;
            slot->offset = (uint32_t)self->pool_len;
            slot->length = (uint16_t)n;
            for (Py_ssize_t j = 0; j < n; j++) self->pool[self->pool_len++] = (uint16_t)PyUnicode_READ(kind, data, j);
        }
        slot->tag = (uint8_t)tag;
        slot->freq = freq;
    }
    return 0;
}

static PairSlot *pair_slot(Segmenter *self, uint32_t key) {
    size_t i = (size_t)mix(key) & self->pair_mask;
    while (self->pairs[i].key != 0 && self->pairs[i].key != key) i = (i + 1) & self->pair_mask;
    return &self->pairs[i];
}

static inline const PairSlot *find_pair(const Segmenter *self, Py_UCS4 a, Py_UCS4 b) {
    uint32_t key = ((uint32_t)a << 16) | (uint32_t)b;
    size_t i = (size_t)mix(key) & self->pair_mask;
    for (;;) {
        const PairSlot *slot = &self->pairs[i];
        if (slot->key == key) return slot;
        if (slot->key == 0) return NULL;
        i = (i + 1) & self->pair_mask;
    }
}

static inline void word_key(const Py_UCS4 *chars, int length, uint64_t *low, uint64_t *high) {
    uint64_t l = 0;
    for (int j = 0; j < length && j < 4; j++) l |= (uint64_t)(chars[j] - CJK_FIRST) << (16 * j);
    *low = l;
    *high = (length == 5 ? (uint64_t)(chars[4] - CJK_FIRST) : 0) | ((uint64_t)length << 16);
}

static WordSlot *word_slot(Segmenter *self, uint64_t low, uint64_t high) {
    size_t i = (size_t)mix(low ^ mix(high)) & self->word_mask;
    while (self->words[i].high != 0 && !(self->words[i].low == low && self->words[i].high == high))
        i = (i + 1) & self->word_mask;
    return &self->words[i];
}

static inline const WordSlot *find_word(const Segmenter *self, const Py_UCS4 *chars, int length) {
    uint64_t low, high;
    word_key(chars, length, &low, &high);
    size_t i = (size_t)mix(low ^ mix(high)) & self->word_mask;
    for (;;) {
        const WordSlot *slot = &self->words[i];
        if (slot->high == high && slot->low == low) return slot;
        if (slot->high == 0) return NULL;
        i = (i + 1) & self->word_mask;
    }
}

/* The code points of ``word`` if it is 1..MAX_WORD CJK ideographs, else its length is returned
 * as 0 (a word with any other character can never match inside a run of ideographs). */
static int cjk_word(PyObject *word, Py_UCS4 *chars) {
    if (!PyUnicode_Check(word)) return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(word);
    if (n < 1 || n > MAX_WORD) return 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_UCS4 c = PyUnicode_READ_CHAR(word, j);
        if (!IS_CJK(c)) return 0;
        chars[j] = c;
    }
    return (int)n;
}

static int score_of(PyObject *value, double *out) {
    *out = PyFloat_AsDouble(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static void Segmenter_dealloc(Segmenter *self) {
    PyMem_Free(self->pairs);
    PyMem_Free(self->words);
    PyMem_Free(self->dict);
    PyMem_Free(self->pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Segmenter(single, pairs, logp, starts3): the lexicon's tables (see lexicon._build). */
static int Segmenter_init(Segmenter *self, PyObject *args, PyObject *kwds) {
    PyObject *single, *pairs, *logp, *starts3, *words = NULL;
    static char *names[] = {"single", "pairs", "logp", "starts3", "words", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!O|O!:Segmenter", names, &PyDict_Type, &single,
                                     &PyDict_Type, &pairs, &PyDict_Type, &logp, &starts3, &PyDict_Type, &words))
        return -1;
    if (self->pairs != NULL || self->words != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Segmenter is already initialised");
        return -1;
    }
    Py_UCS4 chars[MAX_WORD];
    PyObject *key, *value;
    Py_ssize_t pos = 0;

    /* every ideograph has a score (lexicon._build gives the floor to those jieba does not know) */
    for (Py_UCS4 c = CJK_FIRST; c <= CJK_LAST; c++) {
        PyObject *ch = PyUnicode_FromOrdinal((int)c);
        if (ch == NULL) return -1;
        value = PyDict_GetItemWithError(single, ch);
        Py_DECREF(ch);
        if (value == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "single has no score for U+%x", (unsigned int)c);
            return -1;
        }
        if (score_of(value, &self->single[c - CJK_FIRST]) < 0) return -1;
    }

    PyObject *prefixes = PySequence_List(starts3);
    if (prefixes == NULL) return -1;
    Py_ssize_t n_prefixes = PyList_GET_SIZE(prefixes);
    self->pair_mask = table_size(PyDict_Size(pairs) + n_prefixes) - 1;
    self->pairs = PyMem_Calloc(self->pair_mask + 1, sizeof(PairSlot));
    if (self->pairs == NULL) {
        Py_DECREF(prefixes);
        PyErr_NoMemory();
        return -1;
    }
    pos = 0;
    while (PyDict_Next(pairs, &pos, &key, &value)) {
        int n = cjk_word(key, chars);
        if (n < 0) {
            Py_DECREF(prefixes);
            PyErr_SetString(PyExc_TypeError, "pairs: keys must be str");
            return -1;
        }
        if (n != 2) continue;
        PairSlot *slot = pair_slot(self, ((uint32_t)chars[0] << 16) | (uint32_t)chars[1]);
        slot->key = ((uint32_t)chars[0] << 16) | (uint32_t)chars[1];
        slot->is_word = 1;
        if (score_of(value, &slot->logp) < 0) {
            Py_DECREF(prefixes);
            return -1;
        }
    }
    for (Py_ssize_t j = 0; j < n_prefixes; j++) {
        int n = cjk_word(PyList_GET_ITEM(prefixes, j), chars);
        if (n < 0) {
            Py_DECREF(prefixes);
            PyErr_SetString(PyExc_TypeError, "starts3: items must be str");
            return -1;
        }
        if (n != 2) continue;
        PairSlot *slot = pair_slot(self, ((uint32_t)chars[0] << 16) | (uint32_t)chars[1]);
        slot->key = ((uint32_t)chars[0] << 16) | (uint32_t)chars[1];
        slot->starts_longer = 1;
    }
    Py_DECREF(prefixes);

    /* sized for the words kept (three to five ideographs), counted first: half of the table */
    Py_ssize_t longer = 0;
    pos = 0;
    while (PyDict_Next(logp, &pos, &key, &value)) {
        if (PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) >= 3) longer++;
    }
    self->word_mask = table_size(longer) - 1;
    self->words = PyMem_Calloc(self->word_mask + 1, sizeof(WordSlot));
    if (self->words == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    pos = 0;
    while (PyDict_Next(logp, &pos, &key, &value)) {
        int n = cjk_word(key, chars);
        if (n < 0) {
            PyErr_SetString(PyExc_TypeError, "logp: keys must be str");
            return -1;
        }
        if (n < 3) continue;
        uint64_t low, high;
        word_key(chars, n, &low, &high);
        WordSlot *slot = word_slot(self, low, high);
        slot->low = low;
        slot->high = high;
        if (score_of(value, &slot->logp) < 0) return -1;
    }
    return words == NULL ? 0 : build_dict(self, words);
}

/* A growable array of offsets (the boundaries of a window), on the stack for the usual window. */
typedef struct {
    Py_ssize_t *items;
    Py_ssize_t size;
    Py_ssize_t capacity;
    Py_ssize_t stack[64];
} Offsets;

static void offsets_init(Offsets *o) {
    o->items = o->stack;
    o->size = 0;
    o->capacity = 64;
}

static void offsets_free(Offsets *o) {
    if (o->items != o->stack) PyMem_Free(o->items);
    o->items = o->stack;
}

static int offsets_push(Offsets *o, Py_ssize_t value) {
    if (o->size == o->capacity) {
        Py_ssize_t *bigger = PyMem_Malloc((size_t)o->capacity * 2 * sizeof(Py_ssize_t));
        if (bigger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(bigger, o->items, (size_t)o->size * sizeof(Py_ssize_t));
        if (o->items != o->stack) PyMem_Free(o->items);
        o->items = bigger;
        o->capacity *= 2;
    }
    o->items[o->size++] = value;
    return 0;
}

/* Append to ``out`` the boundaries (offset ``base``) of the best path through ``run[0:n]``, n >= 2
 * ideographs: the same recurrence, in the same order, as lexicon._best_path. */
static int best_path(const Segmenter *self, const Py_UCS4 *run, Py_ssize_t n, Py_ssize_t base,
                     Offsets *out) {
    double best_stack[65];
    int step_stack[65];
    double *best = best_stack;
    int *step = step_stack;
    if (n > 64) {
        best = PyMem_Malloc((size_t)(n + 1) * sizeof(double));
        step = PyMem_Malloc((size_t)(n + 1) * sizeof(int));
        if (best == NULL || step == NULL) {
            PyMem_Free(best);
            PyMem_Free(step);
            PyErr_NoMemory();
            return -1;
        }
    }
    best[n] = 0.0;
    step[n] = 1;
    best[n - 1] = self->single[run[n - 1] - CJK_FIRST] + 0.0;
    step[n - 1] = 1;
    for (Py_ssize_t i = n - 2; i >= 0; i--) {
        double top = self->single[run[i] - CJK_FIRST] + best[i + 1];
        int length = 1;
        const PairSlot *two = find_pair(self, run[i], run[i + 1]);
        if (two != NULL) {
            if (two->is_word && two->logp + best[i + 2] > top) {
                top = two->logp + best[i + 2];
                length = 2;
            }
            if (two->starts_longer) {
                Py_ssize_t last = n < i + MAX_WORD ? n : i + MAX_WORD;
                for (Py_ssize_t k = i + 3; k <= last; k++) {
                    const WordSlot *word = find_word(self, run + i, (int)(k - i));
                    if (word != NULL && word->logp + best[k] > top) {
                        top = word->logp + best[k];
                        length = (int)(k - i);
                    }
                }
            }
        }
        best[i] = top;
        step[i] = length;
    }
    int status = 0;
    for (Py_ssize_t i = 0; i < n;) {
        i += step[i];
        if (offsets_push(out, base + i) < 0) {
            status = -1;
            break;
        }
    }
    if (best != best_stack) {
        PyMem_Free(best);
        PyMem_Free(step);
    }
    return status;
}

/* The boundaries of text[lo:hi] (0 <= lo < hi <= len), sorted, the ends included, into ``out``
 * (lexicon._boundary_list_python). */
static int window_boundaries(const Segmenter *self, PyObject *text, Py_ssize_t lo, Py_ssize_t hi,
                             Offsets *out) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (offsets_push(out, lo) < 0) return -1;
    Py_UCS4 run_stack[64];
    Py_UCS4 *run = run_stack;
    Py_ssize_t capacity = 64;
    Py_ssize_t start = lo;
    int status = 0;
    while (start < hi) {
        /* characters other than ideographs: a boundary after each */
        while (start < hi && !IS_CJK(PyUnicode_READ(kind, data, start))) {
            start++;
            if (offsets_push(out, start) < 0) goto fail;
        }
        Py_ssize_t end = start;
        while (end < hi && IS_CJK(PyUnicode_READ(kind, data, end))) end++;
        Py_ssize_t n = end - start;
        if (n > 1) {
            if (n > capacity) {
                Py_UCS4 *bigger = PyMem_Malloc((size_t)n * sizeof(Py_UCS4));
                if (bigger == NULL) {
                    PyErr_NoMemory();
                    goto fail;
                }
                if (run != run_stack) PyMem_Free(run);
                run = bigger;
                capacity = n;
            }
            for (Py_ssize_t j = 0; j < n; j++) run[j] = PyUnicode_READ(kind, data, start + j);
            if (best_path(self, run, n, start, out) < 0) goto fail;
        } else if (n == 1) {
            if (offsets_push(out, end) < 0) goto fail;
        }
        start = end;
    }
    goto done;
fail:
    status = -1;
done:
    if (run != run_stack) PyMem_Free(run);
    return status;
}

static int parse_window(PyObject *const *args, Py_ssize_t nargs, PyObject **text, Py_ssize_t *lo,
                        Py_ssize_t *hi) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "boundary_list(text, lo, hi) takes 3 arguments");
        return -1;
    }
    *text = args[0];
    if (!PyUnicode_Check(*text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return -1;
    }
    *lo = PyLong_AsSsize_t(args[1]);
    if (*lo == -1 && PyErr_Occurred()) return -1;
    *hi = PyLong_AsSsize_t(args[2]);
    if (*hi == -1 && PyErr_Occurred()) return -1;
    return 0;
}

/* boundary_list(text, lo, hi): see lexicon.boundary_list. */
static PyObject *Segmenter_boundary_list(Segmenter *self, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *text;
    Py_ssize_t lo, hi;
    if (parse_window(args, nargs, &text, &lo, &hi) < 0) return NULL;
    if (self->pairs == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Segmenter is not initialised");
        return NULL;
    }
    if (lo >= hi) { /* sorted({lo, hi}) */
        if (lo == hi) return Py_BuildValue("[n]", lo);
        return Py_BuildValue("[nn]", hi, lo);
    }
    if (lo < 0 || hi > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_IndexError, "boundary_list: lo and hi must lie within the text");
        return NULL;
    }
    Offsets found;
    offsets_init(&found);
    if (window_boundaries(self, text, lo, hi, &found) < 0) {
        offsets_free(&found);
        return NULL;
    }
    PyObject *out = PyList_New(found.size);
    if (out != NULL) {
        for (Py_ssize_t j = 0; j < found.size; j++) {
            PyObject *at = PyLong_FromSsize_t(found.items[j]);
            if (at == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, j, at);
        }
    }
    offsets_free(&found);
    return out;
}

/* The tables as bytes, for the derived-data cache (core.derived_cache): loading them back
 * (Segmenter.load) takes a few milliseconds, where building them from the lexicon's dicts takes the
 * dicts (about 150 ms to unmarshal) and 50 ms more. The layout is this build's structs, so the
 * cache key names FORMAT and the machine. */
static const char BLOB_MAGIC[8] = {'S', 'T', 'K', 'S', 'E', 'G', '0', '3'};

typedef struct {
    char magic[8];
    uint64_t n_pairs;
    uint64_t n_words;
    uint64_t n_dict; /* 0: no dictionary */
    uint64_t pool_len;
} BlobHeader;

static PyObject *Segmenter_dump(Segmenter *self, PyObject *Py_UNUSED(ignored)) {
    if (self->pairs == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Segmenter is not initialised");
        return NULL;
    }
    BlobHeader header;
    memcpy(header.magic, BLOB_MAGIC, sizeof header.magic);
    header.n_pairs = header.n_words = header.n_dict = header.pool_len = 0;
    for (size_t i = 0; i <= self->pair_mask; i++) header.n_pairs += self->pairs[i].key != 0;
    for (size_t i = 0; i <= self->word_mask; i++) header.n_words += self->words[i].high != 0;
    if (self->dict != NULL) {
        for (size_t i = 0; i <= self->dict_mask; i++) header.n_dict += self->dict[i].hash != 0;
        header.pool_len = self->pool_len;
    }
    Py_ssize_t size = (Py_ssize_t)(sizeof header + sizeof self->single + header.n_pairs * sizeof(PairSlot) +
                                   header.n_words * sizeof(WordSlot) + header.n_dict * sizeof(DictSlot) +
                                   header.pool_len * sizeof(uint16_t));
    PyObject *blob = PyBytes_FromStringAndSize(NULL, size);
    if (blob == NULL) return NULL;
    char *at = PyBytes_AS_STRING(blob);
    memcpy(at, &header, sizeof header);
    at += sizeof header;
    memcpy(at, self->single, sizeof self->single);
    at += sizeof self->single;
    for (size_t i = 0; i <= self->pair_mask; i++) {
        if (self->pairs[i].key == 0) continue;
        PairSlot slot;
        memset(&slot, 0, sizeof slot); /* padding bytes too: the same tables give the same bytes */
        slot.key = self->pairs[i].key;
        slot.is_word = self->pairs[i].is_word;
        slot.starts_longer = self->pairs[i].starts_longer;
        slot.logp = self->pairs[i].logp;
        memcpy(at, &slot, sizeof slot);
        at += sizeof slot;
    }
    for (size_t i = 0; i <= self->word_mask; i++) {
        if (self->words[i].high == 0) continue;
        memcpy(at, &self->words[i], sizeof(WordSlot));
        at += sizeof(WordSlot);
    }
    if (self->dict != NULL) {
        for (size_t i = 0; i <= self->dict_mask; i++) {
            if (self->dict[i].hash == 0) continue;
            DictSlot slot = self->dict[i]; /* (calloc'd: its padding is zero) */
            memcpy(at, &slot, sizeof slot);
            at += sizeof slot;
        }
        memcpy(at, self->pool, header.pool_len * sizeof(uint16_t));
    }
    return blob;
}

/* Segmenter.load(blob): a Segmenter with the tables of ``dump``'s bytes. */
static PyObject *Segmenter_load(PyTypeObject *type, PyObject *blob) {
    Py_buffer view;
    if (PyObject_GetBuffer(blob, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *at = view.buf;
    BlobHeader header;
    Segmenter *self = NULL;
    if ((size_t)view.len < sizeof header) goto bad;
    memcpy(&header, at, sizeof header);
    if (memcmp(header.magic, BLOB_MAGIC, sizeof header.magic) != 0 || header.n_pairs > (1u << 26) ||
        header.n_words > (1u << 26) || header.n_dict > (1u << 26) || header.pool_len > 0x7FFFFFFF)
        goto bad;
    if ((size_t)view.len != sizeof header + sizeof self->single + header.n_pairs * sizeof(PairSlot) +
                                header.n_words * sizeof(WordSlot) + header.n_dict * sizeof(DictSlot) +
                                header.pool_len * sizeof(uint16_t))
        goto bad;
    at += sizeof header;
    self = (Segmenter *)type->tp_alloc(type, 0);
    if (self == NULL) goto fail;
    memcpy(self->single, at, sizeof self->single);
    at += sizeof self->single;
    self->pair_mask = table_size((Py_ssize_t)header.n_pairs) - 1;
    self->pairs = PyMem_Calloc(self->pair_mask + 1, sizeof(PairSlot));
    self->word_mask = table_size((Py_ssize_t)header.n_words) - 1;
    self->words = PyMem_Calloc(self->word_mask + 1, sizeof(WordSlot));
    if (self->pairs == NULL || self->words == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (uint64_t j = 0; j < header.n_pairs; j++, at += sizeof(PairSlot)) {
        PairSlot slot;
        memcpy(&slot, at, sizeof slot);
        if (slot.key == 0) goto bad;
        *pair_slot(self, slot.key) = slot;
    }
    for (uint64_t j = 0; j < header.n_words; j++, at += sizeof(WordSlot)) {
        WordSlot slot;
        memcpy(&slot, at, sizeof slot);
        if (slot.high == 0) goto bad;
        *word_slot(self, slot.low, slot.high) = slot;
    }
    if (header.n_dict > 0) {
        self->dict_mask = table_size((Py_ssize_t)header.n_dict) - 1;
        self->dict = PyMem_Calloc(self->dict_mask + 1, sizeof(DictSlot));
        self->pool = PyMem_Malloc((size_t)(header.pool_len ? header.pool_len : 1) * sizeof(uint16_t));
        if (self->dict == NULL || self->pool == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        const char *slots = at;
        memcpy(self->pool, at + header.n_dict * sizeof(DictSlot), header.pool_len * sizeof(uint16_t));
        self->pool_len = header.pool_len;
        for (uint64_t j = 0; j < header.n_dict; j++) {
            DictSlot slot;
            memcpy(&slot, slots + j * sizeof(DictSlot), sizeof slot);
            if (slot.hash == 0 || (uint64_t)slot.offset + slot.length > header.pool_len) goto bad;
            size_t i = (size_t)slot.hash & self->dict_mask;
            while (self->dict[i].hash != 0) i = (i + 1) & self->dict_mask; /* (no duplicates were dumped) */
            self->dict[i] = slot;
        }
    }
    PyBuffer_Release(&view);
    return (PyObject *)self;
bad:
    PyErr_SetString(PyExc_ValueError, "Segmenter.load: not the bytes of Segmenter.dump of this build");
fail:
    Py_XDECREF(self);
    PyBuffer_Release(&view);
    return NULL;
}

/* word(text) -> (frequency, tag) | None: the C dictionary's entry (tag 0 other, 1 nr, 2 ns). */
static PyObject *Segmenter_word(Segmenter *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    if (self->dict == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "this Segmenter was built without the dictionary");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (!all_bmp(kind, data, 0, n)) {
        PyErr_SetString(PyExc_ValueError, "word: the C dictionary holds words of the Basic Multilingual Plane only");
        return NULL;
    }
    const DictSlot *slot = find_dict(self, kind, data, 0, n);
    if (slot == NULL) Py_RETURN_NONE;
    return Py_BuildValue("(Li)", (long long)slot->freq, (int)slot->tag);
}

static PyMethodDef Segmenter_methods[] = {
    {"word", (PyCFunction)Segmenter_word, METH_O,
     "word(text) -> (frequency, tag) | None: the dictionary entry of a word of the BMP "
     "(tag 0: other, 1: nr, 2: ns)."},
    {"boundary_list", (PyCFunction)(void (*)(void))Segmenter_boundary_list, METH_FASTCALL,
     "boundary_list(text, lo, hi) -> list[int]: jieba's word boundaries in text[lo:hi], sorted, "
     "the ends included (lexicon.boundary_list)."},
    {"dump", (PyCFunction)Segmenter_dump, METH_NOARGS, "dump() -> bytes: the tables, for Segmenter.load."},
    {"load", (PyCFunction)(void (*)(void))Segmenter_load, METH_O | METH_CLASS,
     "load(blob) -> Segmenter: a Segmenter with the tables that dump() returned."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SegmenterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stockade.privacy.detectors._segment.Segmenter",
    .tp_basicsize = sizeof(Segmenter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Segmenter(single, pairs, logp, starts3, words=None): jieba's dictionary segmenter over "
              "short windows, and with ``words`` its dictionary (for NameChecker).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Segmenter_init,
    .tp_dealloc = (destructor)Segmenter_dealloc,
    .tp_methods = Segmenter_methods,
};


/* ---- the name detector's check of a candidate against the dictionary (person._check_name) ---- */

#define BMP 65536
#define BIT(map, c) (((c) < BMP) && ((map)[(c) >> 3] >> ((c) & 7) & 1))
#define MAX_COMPOUNDS 256

/* A set of words (a frozenset of str given from Python) in a C hash table keyed by code points, so
 * that asking whether a slice of a text is one allocates nothing; with the first characters and the
 * longest length, for the scans (a trie alternation of ``re`` finds the longest word first). */
typedef struct {
    uint64_t hash; /* 0 = empty slot */
    uint32_t offset;
    uint32_t length;
} WordSlot16;

typedef struct {
    int built;
    uint8_t first[BMP / 8];
    int maxlen;
    WordSlot16 *slots;
    size_t mask;
    Py_UCS4 *pool;
} WordSet;

typedef struct {
    PyObject_HEAD
    Segmenter *segmenter;
    PyObject *word; /* lexicon.word, for a string the C dictionary cannot hold (beyond U+FFFF) */
    uint8_t surname[BMP / 8];
    uint8_t compound_head[BMP / 8];
    uint8_t given[BMP / 8];     /* GIVEN_NAME_CHARS */
    uint8_t name_like[BMP / 8]; /* given, or in >= 20 of the dictionary's three-character names */
    uint32_t compounds[MAX_COMPOUNDS];
    int n_compounds;
    /* for name_at (person.name_at), set by configure_candidates */
    int configured;
    uint8_t g1_stop[BMP / 8];
    uint8_t g2_stop[BMP / 8];
    uint8_t function_surname[BMP / 8];
    WordSet titles;
    WordSet followers;  /* NAME_FOLLOWERS + TITLES (person._FOLLOWER_RE) */
    WordSet stop_exact; /* person._STOP_EXACT */
    WordSet stop2;
    WordSet stop3;
    /* for collect_context and collect_loose (the name detector's scans), set by configure_scans */
    int scans_configured;
    WordSet prefix_words; /* person._PREFIX_RE's words (no role ending in 人) */
    WordSet weak_words;   /* person.WEAK_CONTEXT */
    WordSet title_words;  /* person.TITLES */
    WordSet name_followers;  /* person.NAME_FOLLOWERS (the lookahead of _STANDALONE_RE) */
    WordSet start_followers; /* person._START_FOLLOWERS */
    WordSet ren_words;    /* person._REN_WORDS */
    WordSet ren_roles;    /* person._REN_ROLES */
    uint8_t all_heads[BMP / 8];     /* person._ALL_HEADS */
    uint8_t surname_heads[BMP / 8]; /* person._SURNAME_HEADS */
    uint8_t list_sep[BMP / 8];      /* person._LIST_SEP */
} NameChecker;

static void set_bit(uint8_t *map, Py_UCS4 c) { map[c >> 3] |= (uint8_t)(1u << (c & 7)); }

/* Each item of ``items`` must be a str of ``length`` characters of the Basic Multilingual Plane. */
static int fill_chars(PyObject *items, int length, uint8_t *map, NameChecker *self, const char *what) {
    PyObject *iterator = PyObject_GetIter(items);
    if (iterator == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        if (!PyUnicode_Check(item) || PyUnicode_GET_LENGTH(item) != length) {
            PyErr_Format(PyExc_ValueError, "%s: every item must be a str of %d character(s)", what, length);
            Py_DECREF(item);
            Py_DECREF(iterator);
            return -1;
        }
        Py_UCS4 a = PyUnicode_READ_CHAR(item, 0);
        Py_UCS4 b = length == 2 ? PyUnicode_READ_CHAR(item, 1) : 0;
        Py_DECREF(item);
        if (a >= BMP || b >= BMP) {
            PyErr_Format(PyExc_ValueError, "%s: characters beyond U+FFFF are not supported", what);
            Py_DECREF(iterator);
            return -1;
        }
        set_bit(map, a);
        if (length == 2) {
            if (self->n_compounds == MAX_COMPOUNDS) {
                PyErr_Format(PyExc_ValueError, "%s: more than %d entries", what, MAX_COMPOUNDS);
                Py_DECREF(iterator);
                return -1;
            }
            self->compounds[self->n_compounds++] = (a << 16) | b;
        }
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

static void wordset_free(WordSet *ws);

static void NameChecker_dealloc(NameChecker *self) {
    Py_XDECREF(self->segmenter);
    Py_XDECREF(self->word);
    WordSet *sets[] = {&self->titles, &self->followers, &self->stop_exact, &self->stop2, &self->stop3,
                       &self->prefix_words, &self->weak_words, &self->title_words, &self->name_followers,
                       &self->start_followers, &self->ren_words, &self->ren_roles};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) wordset_free(sets[k]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* NameChecker(segmenter, word, given_counts, surnames, compound_surnames, given_name_chars): the
 * segmenter must hold the dictionary; ``word`` (lexicon.word) answers for other strings. */
static int NameChecker_init(NameChecker *self, PyObject *args, PyObject *kwds) {
    PyObject *segmenter, *word, *given_counts, *surnames, *compounds, *given;
    static char *names[] = {"segmenter", "word", "given_counts", "surnames", "compound_surnames",
                            "given_name_chars", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO!OOO:NameChecker", names, &SegmenterType, &segmenter,
                                     &word, &PyDict_Type, &given_counts, &surnames, &compounds, &given))
        return -1;
    if (((Segmenter *)segmenter)->dict == NULL) {
        PyErr_SetString(PyExc_ValueError, "NameChecker: the segmenter was built without the dictionary");
        return -1;
    }
    if (!PyCallable_Check(word)) {
        PyErr_SetString(PyExc_TypeError, "NameChecker: word must be callable (lexicon.word)");
        return -1;
    }
    if (self->segmenter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "NameChecker is already initialised");
        return -1;
    }
    memset(self->surname, 0, sizeof self->surname);
    memset(self->compound_head, 0, sizeof self->compound_head);
    memset(self->given, 0, sizeof self->given);
    self->n_compounds = 0;
    if (fill_chars(surnames, 1, self->surname, self, "surnames") < 0) return -1;
    if (fill_chars(compounds, 2, self->compound_head, self, "compound_surnames") < 0) return -1;
    if (fill_chars(given, 1, self->given, self, "given_name_chars") < 0) return -1;
    memcpy(self->name_like, self->given, sizeof self->name_like);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(given_counts, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) != 1) continue; /* never asked */
        Py_UCS4 c = PyUnicode_READ_CHAR(key, 0);
        long count = PyLong_AsLong(value);
        if (count == -1 && PyErr_Occurred()) return -1;
        if (c < BMP && count >= 20) set_bit(self->name_like, c);
    }
    Py_INCREF(segmenter);
    self->segmenter = (Segmenter *)segmenter;
    Py_INCREF(word);
    self->word = word;
    return 0;
}

/* person._surname_len */
static int surname_len(const NameChecker *self, int kind, const void *data, Py_ssize_t n, Py_ssize_t p) {
    if (p >= n) return 0;
    Py_UCS4 first = PyUnicode_READ(kind, data, p);
    if (BIT(self->compound_head, first) && p + 1 < n) {
        uint32_t key = (first << 16) | PyUnicode_READ(kind, data, p + 1);
        for (int j = 0; j < self->n_compounds; j++)
            if (self->compounds[j] == key) return 2;
    }
    return BIT(self->surname, first) ? 1 : 0;
}

/* lexicon.word(text[a:z]): 1 and (frequency, whether tagged nr, whether tagged ns) if a word, 0 if
 * not, -1 on error. */
static int word_info(const NameChecker *self, PyObject *text, Py_ssize_t a, Py_ssize_t z, long long *freq,
                     int *nr, int *ns) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (z > a && all_bmp(kind, data, a, z)) { /* every string the name detector asks about */
        const DictSlot *slot = find_dict(self->segmenter, kind, data, a, z);
        if (slot == NULL) return 0;
        *freq = slot->freq;
        *nr = slot->tag == TAG_NR;
        *ns = slot->tag == TAG_NS;
        return 1;
    }
    PyObject *piece = PyUnicode_Substring(text, a, z);
    if (piece == NULL) return -1;
    PyObject *info = PyObject_CallOneArg(self->word, piece);
    Py_DECREF(piece);
    if (info == NULL) return -1;
    if (info == Py_None) {
        Py_DECREF(info);
        return 0;
    }
    int status = 1;
    if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 2) {
        PyErr_SetString(PyExc_TypeError, "word: must return (frequency, tag) or None");
        status = -1;
    } else {
        *freq = PyLong_AsLongLong(PyTuple_GET_ITEM(info, 0));
        int tag = tag_code(PyTuple_GET_ITEM(info, 1));
        if ((*freq == -1 && PyErr_Occurred()) || tag < 0) {
            status = -1;
        } else {
            *nr = tag == TAG_NR;
            *ns = tag == TAG_NS;
        }
    }
    Py_DECREF(info);
    return status;
}

static int all_in(const uint8_t *map, int kind, const void *data, Py_ssize_t a, Py_ssize_t z) {
    for (Py_ssize_t j = a; j < z; j++)
        if (!BIT(map, PyUnicode_READ(kind, data, j))) return 0;
    return 1;
}

static int contains(const Offsets *b, Py_ssize_t x) {
    for (Py_ssize_t j = 0; j < b->size; j++)
        if (b->items[j] == x) return 1;
    return 0;
}

static int is_dot(Py_UCS4 c) { return c == 0x00B7 || c == 0x2022 || c == 0x30FB; } /* · • ・ */

/* person._RARE_GLUED_SURNAME, person._FREQUENT_PLACE, person._listed_name, person.AFTER_VERB,
   person._RARE_NAME_WORD and person._word_may_name */
#define RARE_GLUED_SURNAME 100
#define FREQUENT_PLACE 100
#define LISTED_NAME(found, nr, freq, length, sl) \
    ((found) && (nr) && ((sl) == 2 || ((freq) < 20 && (length) == 3)))
#define AFTER_VERB 1
#define RARE_NAME_WORD 100
#define WORD_MAY_NAME(found, nr, freq, length, sl, strict) \
    (LISTED_NAME(found, nr, freq, length, sl) ||           \
     ((strict) == AFTER_VERB && (length) == 2 && (found) && (nr) && (freq) < RARE_NAME_WORD))

#define NO_NAME (-2)
#define FAILED (-1)

static int delimited(const NameChecker *self, PyObject *text, int kind, const void *data, Py_ssize_t n,
                     Py_ssize_t end);

/* The body of person._check_name, line for line: the end of the name, NO_NAME, or FAILED. */
static Py_ssize_t check(const NameChecker *self, PyObject *text, Py_ssize_t start, Py_ssize_t end, int strict,
                        int titled, Offsets *b) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int sl = surname_len(self, kind, data, n, start);
    if (!sl) return end; /* minority names and names already shortened are not re-checked */
    int bare = end - start == sl;
#define CHAR_AT(i) ((i) >= 0 && (i) < n ? PyUnicode_READ(kind, data, (i)) : (Py_UCS4)-1)
#define NEED(i)                                                                  \
    if ((i) < 0 || (i) >= n) {                                                   \
        PyErr_SetString(PyExc_IndexError, "check_name: string index out of range"); \
        return FAILED;                                                           \
    }
    if (!bare) {
        NEED(start + sl);
        if (CHAR_AT(start + sl) == 0x67D0) return end; /* 某 */
    }
    if (strict) {
        /* a name at the very start of a text has nothing before it (no digit, no dot) */
        Py_UCS4 before = start > 0 ? CHAR_AT(start - 1) : 0;
        if (Py_UNICODE_ISDIGIT(before) || is_dot(before) || (end < n && is_dot(CHAR_AT(end)))) return NO_NAME;
    }
    if (bare && !titled) return end;
    if (strict) {
        NEED(start + sl);
        if (!BIT(self->given, CHAR_AT(start + sl))) return NO_NAME;
    }
    Py_ssize_t lo = start - 4 > 0 ? start - 4 : 0;
    Py_ssize_t hi = end + 4 < n ? end + 4 : n;
    if (lo >= hi) {
        if (offsets_push(b, hi < lo ? hi : lo) < 0) return FAILED;
        if (hi != lo && offsets_push(b, hi < lo ? lo : hi) < 0) return FAILED;
    } else if (window_boundaries(self->segmenter, text, lo, hi, b) < 0) {
        return FAILED;
    }
    if ((strict || titled) && !contains(b, start)) return NO_NAME;
    long long freq;
    int nr, ns, found;
    if (bare) {
        if (contains(b, end)) return end;
        Py_ssize_t next = -1;
        for (Py_ssize_t j = 0; j < b->size; j++)
            if (b->items[j] > start) {
                next = b->items[j];
                break;
            }
        if (next < 0) {
            PyErr_SetString(PyExc_IndexError, "check_name: no boundary after the surname");
            return FAILED;
        }
        found = word_info(self, text, start, next, &freq, &nr, &ns);
        if (found < 0) return FAILED;
        return (!found || nr) ? end : NO_NAME;
    }
    if (strict && !contains(b, start + sl)) {
        /* the surname read with the next character as one word: a name when that word is rare and
           ends inside the candidate (江华|振, 公|孙悦|毅), or when the candidate is a name the
           dictionary lists */
        Py_ssize_t prev = -1, next = -1;
        for (Py_ssize_t j = 0; j < b->size; j++) {
            if (b->items[j] < start + sl) prev = b->items[j];
            if (b->items[j] > start + sl) {
                next = b->items[j];
                break;
            }
        }
        if (next < 0 || prev < 0) {
            PyErr_SetString(PyExc_IndexError, "check_name: no boundary around the surname");
            return FAILED;
        }
        if (next < end) {
            found = word_info(self, text, prev, next, &freq, &nr, &ns);
            if (found < 0) return FAILED;
            if (found && freq >= RARE_GLUED_SURNAME) return NO_NAME;
        } else {
            if (next > end) return NO_NAME;
            found = word_info(self, text, start, end, &freq, &nr, &ns);
            if (found < 0) return FAILED;
            if (!WORD_MAY_NAME(found, nr, freq, end - start, sl, strict)) return NO_NAME;
        }
    }
    /* the end inside a word: shortened, unless a follower comes next and the given name is made
       of given-name characters (娄宏成|本人) */
    if (!contains(b, end)) {
        int keep = all_in(self->given, kind, data, start + sl, end);
        if (keep) {
            if (!self->followers.built) {
                PyErr_SetString(PyExc_RuntimeError, "check_name: call configure_candidates first");
                return FAILED;
            }
            keep = delimited(self, text, kind, data, n, end);
        }
        if (!keep) {
            while (!contains(b, end)) {
                end -= 1;
                if (end - start <= sl) return NO_NAME;
            }
        }
    }
    found = word_info(self, text, start, end, &freq, &nr, &ns);
    if (found < 0) return FAILED;
    if (found) {
        if (strict && !WORD_MAY_NAME(found, nr, freq, end - start, sl, strict)) return NO_NAME;
        if (!strict && !nr && freq >= 300) return NO_NAME;
    }
    /* the pieces between start + sl, the boundaries strictly inside, and end; none in a name the
       dictionary lists (王|建国) */
    Py_ssize_t a = start + sl;
    int listed = LISTED_NAME(found, nr, freq, end - start, sl);
    for (Py_ssize_t j = 0; j <= b->size && !listed; j++) {
        Py_ssize_t z;
        if (j < b->size) {
            z = b->items[j];
            if (z <= start + sl || z >= end) continue;
        } else {
            z = end;
        }
        Py_ssize_t from = a;
        a = z;
        if (z - from < 2) continue;
        found = word_info(self, text, from, z, &freq, &nr, &ns);
        if (found < 0) return FAILED;
        if (!found || nr) continue;
        if (strict && ns && freq >= FREQUENT_PLACE) return NO_NAME; /* a place name */
        if ((strict || titled) && freq >= 100 && !all_in(self->given, kind, data, from, z)) return NO_NAME;
        if (freq >= (strict ? 20 : 1000) && !all_in(self->name_like, kind, data, from, z)) return NO_NAME;
    }
    int name_like = all_in(self->given, kind, data, start + sl, end) &&
                    !(end - (start + sl) == 1 && CHAR_AT(start + sl) == 0x5C0F); /* 小 */
    if (strict && !name_like) {
        /* a surname and one given-name character, then a one-character word that is no name
           (严若|替我); end is a boundary here (an end kept inside a word has given-name
           characters only) */
        Py_ssize_t cut = start + sl + 1;
        if (end - start == sl + 2 && contains(b, cut) && CHAR_AT(start + sl) != 0x5C0F) {
            found = word_info(self, text, start, cut, &freq, &nr, &ns);
            if (found < 0) return FAILED;
            if (!found || nr) {
                found = word_info(self, text, cut, end, &freq, &nr, &ns);
                if (found < 0) return FAILED;
                if (found && !nr && !ns) return cut;
            }
        }
        return NO_NAME;
    }
    return end;
#undef CHAR_AT
#undef NEED
}

/* check_name(text, start, end, strict, titled) -> int | None: person._check_name. */
static PyObject *NameChecker_check_name(NameChecker *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "check_name(text, start, end, strict, titled) takes 5 arguments");
        return NULL;
    }
    if (self->segmenter == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "NameChecker is not initialised");
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred()) return NULL;
    /* how the candidate was found: 0, 1 (or False, True) or 2, see person.AFTER_CONTEXT */
    long strict = PyLong_AsLong(args[3]);
    if (strict == -1 && PyErr_Occurred()) return NULL;
    if (strict < 0 || strict > 2) {
        PyErr_SetString(PyExc_ValueError, "check_name: strict must be 0, 1 or 2");
        return NULL;
    }
    int titled = PyObject_IsTrue(args[4]);
    if (titled < 0) return NULL;
    if (start < 0 || end < start || end > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_IndexError, "check_name: need 0 <= start <= end <= len(text)");
        return NULL;
    }
    Offsets b;
    offsets_init(&b);
    Py_ssize_t result = check(self, text, start, end, (int)strict, titled, &b);
    offsets_free(&b);
    if (result == FAILED) return NULL;
    if (result == NO_NAME) Py_RETURN_NONE;
    return PyLong_FromSsize_t(result);
}

/* resolve(text, found, strict, titled, minority, span_type, pii_type, detector) -> list:
 * PersonDetector._resolve with the check in C. */
static PyObject *NameChecker_resolve(NameChecker *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1]) || !PyDict_Check(args[2]) ||
        !PyAnySet_Check(args[3]) || !PyAnySet_Check(args[4]) || !PyType_Check(args[5]) ||
        !PyType_IsSubtype((PyTypeObject *)args[5], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "resolve(text: str, found: dict, strict: dict, titled: set, minority: set, "
                                         "span_type: a tuple type, pii_type, detector)");
        return NULL;
    }
    if (self->segmenter == NULL || !self->configured) {
        PyErr_SetString(PyExc_RuntimeError, "NameChecker: configure_candidates() first");
        return NULL;
    }
    PyObject *text = args[0], *found = args[1], *strict = args[2], *titled = args[3], *minority = args[4];
    PyTypeObject *span_type = (PyTypeObject *)args[5];
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int any_minority = PySet_GET_SIZE(minority) > 0;
    PyObject *items = PyDict_Items(found);
    if (items == NULL) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL || PyList_Sort(items) < 0) goto fail;
    Py_ssize_t last_end = -1;
    Offsets b;
    offsets_init(&b);
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(items); k++) {
        PyObject *item = PyList_GET_ITEM(items, k); /* (start, (end, score)) */
        PyObject *key = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
        if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2) {
            PyErr_SetString(PyExc_TypeError, "found: every value must be (end, score)");
            goto fail_b;
        }
        Py_ssize_t start = PyLong_AsSsize_t(key);
        Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(value, 0));
        if (PyErr_Occurred()) goto fail_b;
        if (start < last_end) continue;
        if (start < 0 || end > n || end < start) {
            PyErr_SetString(PyExc_IndexError, "resolve: need 0 <= start <= end <= len(text)");
            goto fail_b;
        }
        if (start < n && IS_CJK(PyUnicode_READ(kind, data, start))) {
            int skip_check = 0;
            if (any_minority) {
                PyObject *pair = Py_BuildValue("(nn)", start, end);
                if (pair == NULL) goto fail_b;
                skip_check = PySet_Contains(minority, pair);
                Py_DECREF(pair);
                if (skip_check < 0) goto fail_b;
            }
            if (!skip_check) {
                PyObject *how = PyDict_GetItemWithError(strict, key); /* borrowed */
                if (how == NULL && PyErr_Occurred()) goto fail_b;
                long level = how == NULL ? 0 : PyLong_AsLong(how);
                if (level == -1 && PyErr_Occurred()) goto fail_b;
                if (level < 0 || level > 2) {
                    PyErr_SetString(PyExc_ValueError, "resolve: strict values must be 0, 1 or 2");
                    goto fail_b;
                }
                int is_titled = PySet_Contains(titled, key);
                if (is_titled < 0) goto fail_b;
                b.size = 0;
                Py_ssize_t result = check(self, text, start, end, (int)level, is_titled, &b);
                if (result == FAILED) goto fail_b;
                if (result == NO_NAME) continue;
                end = result;
            }
        }
        if (end <= start) {
            PyErr_Format(PyExc_ValueError, "bad span offsets %zd..%zd", start, end);
            goto fail_b;
        }
        /* tuple.__new__(span_type, (start, end, pii_type, score, detector)), as Span.__new__ does */
        PyObject *fields = Py_BuildValue("(nnOOO)", start, end, args[6], PyTuple_GET_ITEM(value, 1), args[7]);
        if (fields == NULL) goto fail_b;
        PyObject *packed = PyTuple_Pack(1, fields);
        Py_DECREF(fields);
        if (packed == NULL) goto fail_b;
        PyObject *span = PyTuple_Type.tp_new(span_type, packed, NULL);
        Py_DECREF(packed);
        if (span == NULL) goto fail_b;
        int status = PyList_Append(out, span);
        Py_DECREF(span);
        if (status < 0) goto fail_b;
        last_end = end;
    }
    offsets_free(&b);
    Py_DECREF(items);
    return out;
fail_b:
    offsets_free(&b);
fail:
    Py_XDECREF(out);
    Py_DECREF(items);
    return NULL;
}

/* ---- where a name starts and ends after a context word or in running text (person.name_at) ---- */

static int fill_bitmap(PyObject *chars, uint8_t *map, const char *what) {
    memset(map, 0, BMP / 8);
    PyObject *iterator = PyObject_GetIter(chars);
    if (iterator == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int ok = PyUnicode_Check(item) && PyUnicode_GET_LENGTH(item) == 1 && PyUnicode_READ_CHAR(item, 0) < BMP;
        if (ok) set_bit(map, PyUnicode_READ_CHAR(item, 0));
        Py_DECREF(item);
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "%s: every item must be one character of the BMP", what);
            Py_DECREF(iterator);
            return -1;
        }
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

static void wordset_free(WordSet *ws) {
    PyMem_Free(ws->slots);
    PyMem_Free(ws->pool);
    ws->slots = NULL;
    ws->pool = NULL;
    ws->built = 0;
}

/* Builds ``ws`` from ``words``, a frozenset of non-empty str of at most 16 characters of the BMP. */
static int fill_wordset(WordSet *ws, PyObject *words, const char *what) {
    if (!PyFrozenSet_Check(words)) {
        PyErr_Format(PyExc_TypeError, "%s must be a frozenset of str", what);
        return -1;
    }
    Py_ssize_t count = PySet_GET_SIZE(words), total = 0;
    PyObject *iterator = PyObject_GetIter(words);
    if (iterator == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        Py_ssize_t length = PyUnicode_Check(item) ? PyUnicode_GET_LENGTH(item) : 0;
        int ok = length > 0 && length <= 16;
        for (Py_ssize_t j = 0; ok && j < length; j++) ok = PyUnicode_READ_CHAR(item, j) < BMP;
        Py_DECREF(item);
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "%s: every item must be a str of 1 to 16 characters of the BMP", what);
            Py_DECREF(iterator);
            return -1;
        }
        total += length;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return -1;
    size_t size = 16;
    while (size < (size_t)count * 2 + 1) size <<= 1;
    WordSlot16 *slots = PyMem_Calloc(size, sizeof(WordSlot16));
    Py_UCS4 *pool = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)(total + 1));
    if (slots == NULL || pool == NULL) {
        PyMem_Free(slots);
        PyMem_Free(pool);
        PyErr_NoMemory();
        return -1;
    }
    wordset_free(ws);
    memset(ws->first, 0, sizeof ws->first);
    ws->maxlen = 0;
    ws->slots = slots;
    ws->pool = pool;
    ws->mask = size - 1;
    uint32_t offset = 0;
    iterator = PyObject_GetIter(words);
    if (iterator == NULL) return -1;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int kind = PyUnicode_KIND(item);
        const void *data = PyUnicode_DATA(item);
        Py_ssize_t length = PyUnicode_GET_LENGTH(item);
        uint64_t hash = hash_chars(kind, data, 0, length);
        size_t i = (size_t)hash & ws->mask;
        while (slots[i].hash != 0) i = (i + 1) & ws->mask; /* (a set holds each word once) */
        slots[i].hash = hash;
        slots[i].offset = offset;
        slots[i].length = (uint32_t)length;
        for (Py_ssize_t j = 0; j < length; j++) pool[offset++] = PyUnicode_READ(kind, data, j);
        set_bit(ws->first, PyUnicode_READ(kind, data, 0));
        if (length > ws->maxlen) ws->maxlen = (int)length;
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return -1;
    ws->built = 1;
    return 0;
}

/* configure_candidates(titles, followers, stop_exact, stop2, stop3, g1_stop, g2_stop,
 * function_surnames): person's tables for name_at. */
static PyObject *NameChecker_configure(NameChecker *self, PyObject *args, PyObject *kwds) {
    PyObject *titles, *followers, *stop_exact, *stop2, *stop3, *g1, *g2, *function;
    static char *names[] = {"titles", "followers", "stop_exact", "stop2", "stop3", "g1_stop", "g2_stop",
                            "function_surnames", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOO:configure_candidates", names, &titles, &followers,
                                     &stop_exact, &stop2, &stop3, &g1, &g2, &function))
        return NULL;
    if (fill_wordset(&self->titles, titles, "titles") < 0 || fill_wordset(&self->followers, followers, "followers") < 0 ||
        fill_wordset(&self->stop_exact, stop_exact, "stop_exact") < 0 ||
        fill_wordset(&self->stop2, stop2, "stop2") < 0 || fill_wordset(&self->stop3, stop3, "stop3") < 0 ||
        fill_bitmap(g1, self->g1_stop, "g1_stop") < 0 ||
        fill_bitmap(g2, self->g2_stop, "g2_stop") < 0 ||
        fill_bitmap(function, self->function_surname, "function_surnames") < 0)
        return NULL;
    self->configured = 1;
    Py_RETURN_NONE;
}

/* Whether text[a:min(z, n)] is a word of ``ws`` (a slice past the end is shorter, as in Python): 1 or 0. */
static int slice_in(const WordSet *ws, PyObject *text, Py_ssize_t n, Py_ssize_t a, Py_ssize_t z) {
    if (a > n) a = n;
    if (z > n) z = n;
    if (z <= a || z - a > ws->maxlen) return 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (!BIT(ws->first, PyUnicode_READ(kind, data, a))) return 0;
    uint64_t hash = hash_chars(kind, data, a, z);
    size_t i = (size_t)hash & ws->mask;
    for (;;) {
        const WordSlot16 *slot = &ws->slots[i];
        if (slot->hash == 0) return 0;
        if (slot->hash == hash && slot->length == (uint32_t)(z - a)) {
            const Py_UCS4 *chars = ws->pool + slot->offset;
            Py_ssize_t j = 0;
            while (j < z - a && chars[j] == PyUnicode_READ(kind, data, a + j)) j++;
            if (j == z - a) return 1;
        }
        i = (i + 1) & ws->mask;
    }
}

/* Whether text[i:i + length] is a word of ``ws`` (the whole slice inside the text): 1 or 0. */
static int word_at(const WordSet *ws, PyObject *text, Py_ssize_t n, Py_ssize_t i, Py_ssize_t length) {
    if (i + length > n) return 0;
    return slice_in(ws, text, n, i, i + length);
}

/* Whether some word of ``ws`` starts at i (a lookahead of the trie): 1 or 0. */
static int any_word_at(const WordSet *ws, PyObject *text, int kind, const void *data, Py_ssize_t n,
                       Py_ssize_t i) {
    if (i >= n || !BIT(ws->first, PyUnicode_READ(kind, data, i))) return 0;
    for (Py_ssize_t length = 1; length <= ws->maxlen; length++)
        if (word_at(ws, text, n, i, length)) return 1;
    return 0;
}

/* person._title_at (these look-ups never fail: 1 or 0) */
static int title_at(const NameChecker *self, PyObject *text, Py_ssize_t n, Py_ssize_t p) {
    return slice_in(&self->titles, text, n, p, p + 2) || slice_in(&self->titles, text, n, p, p + 3);
}

/* person._delimited */
static int delimited(const NameChecker *self, PyObject *text, int kind, const void *data, Py_ssize_t n,
                     Py_ssize_t end) {
    if (end >= n || !IS_CJK(PyUnicode_READ(kind, data, end))) return 1;
    return any_word_at(&self->followers, text, kind, data, n, end);
}

/* person._vetoed */
static int vetoed(const NameChecker *self, PyObject *text, int kind, const void *data, Py_ssize_t n,
                  Py_ssize_t start, Py_ssize_t end) {
    if (slice_in(&self->stop_exact, text, n, start, end) || slice_in(&self->stop3, text, n, start, start + 3))
        return 1;
    if (!slice_in(&self->stop2, text, n, start, start + 2)) return 0;
    if (end - start == 3 && start + 2 < n && BIT(self->given, PyUnicode_READ(kind, data, start + 2)))
        return !delimited(self, text, kind, data, n, end);
    return 1;
}

/* person._name_at_python: 1 and the end and whether it is a bare surname (before a title) of the
 * name that starts at p, 0 for none, -1 on error. */
static int name_at_c(const NameChecker *self, PyObject *text, int kind, const void *data, Py_ssize_t n,
                     Py_ssize_t p, Py_ssize_t *end, int *bare) {
    int sl = surname_len(self, kind, data, n, p);
    if (!sl) return 0;
    Py_ssize_t g = p + sl;
    if (title_at(self, text, n, g)) {
        if (vetoed(self, text, kind, data, n, p, g)) return 0;
        *end = g;
        *bare = 1;
        return 1;
    }
    if (g >= n) return 0;
    Py_UCS4 first = PyUnicode_READ(kind, data, g);
    if (!IS_CJK(first) || BIT(self->g1_stop, first)) return 0;
    Py_ssize_t g2 = g + 1;
    if (g2 < n) {
        Py_UCS4 second = PyUnicode_READ(kind, data, g2);
        if (IS_CJK(second) && !BIT(self->g2_stop, second)) {
            if (!title_at(self, text, n, g2)) g2 += 1;
        }
    }
    if (vetoed(self, text, kind, data, n, p, g2)) return 0;
    /* 客户于财务报表中, 客户向银行: a preposition here, not the surname 于 or 向; but a given name of
       two given-name characters that is no word follows the surname (申请人于慧炜补充说明) */
    if (BIT(self->function_surname, PyUnicode_READ(kind, data, p)) && sl == 1) {
        if (!delimited(self, text, kind, data, n, g2) || !BIT(self->given, PyUnicode_READ(kind, data, g2 - 1))) {
            /* person._given_name_after_preposition */
            if (g2 - g != 2 || !BIT(self->given, PyUnicode_READ(kind, data, g)) ||
                !BIT(self->given, PyUnicode_READ(kind, data, g + 1)))
                return 0;
            long long freq;
            int nr, ns;
            int is_word = word_info(self, text, g, g2, &freq, &nr, &ns);
            if (is_word != 0) return is_word < 0 ? -1 : 0;
        }
    }
    *end = g2;
    *bare = 0;
    return 1;
}

/* name_at(text, p) -> (end, bare) | None: person.name_at. */
static PyObject *NameChecker_name_at(NameChecker *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "name_at(text, p) takes 2 arguments");
        return NULL;
    }
    if (!self->configured || self->segmenter == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "NameChecker: configure_candidates() first");
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t p = PyLong_AsSsize_t(args[1]);
    if (p == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (p < 0 || p > n) {
        PyErr_SetString(PyExc_IndexError, "name_at: need 0 <= p <= len(text)");
        return NULL;
    }
    Py_ssize_t end;
    int bare;
    int found = name_at_c(self, text, PyUnicode_KIND(text), PyUnicode_DATA(text), n, p, &end, &bare);
    if (found < 0) return NULL;
    if (!found) Py_RETURN_NONE;
    return Py_BuildValue("(nO)", end, bare ? Py_True : Py_False);
}

/* ---- the name detector's scans (PersonDetector._after_context, _before_titles,
 * _after_weak_context, _standalone): each finds what its regex's finditer finds, in the same order,
 * and does what the Python method does at each match. ---- */

/* person._NAME_SEP's characters: [：:\s（("“「『|｜], 是, 为, 叫 */
static int name_sep(Py_UCS4 c) {
    return c == 0xFF1A || c == ':' || Py_UNICODE_ISSPACE(c) || c == 0xFF08 || c == '(' || c == '"' ||
           c == 0x201C || c == 0x300C || c == 0x300E || c == '|' || c == 0xFF5C || c == 0x662F /* 是 */ ||
           c == 0x4E3A /* 为 */ || c == 0x53EB /* 叫 */;
}

/* The end of ``(?:_NAME_SEP){0,3}(?=[_ALL_HEADS])`` matched at q (as many separators as can be
 * taken, then fewer until a surname character follows), or -1. */
static Py_ssize_t seps_then_head(const NameChecker *self, int kind, const void *data, Py_ssize_t n,
                                 Py_ssize_t q) {
    int most = 0;
    while (most < 3 && q + most < n && name_sep(PyUnicode_READ(kind, data, q + most))) most++;
    for (int k = most; k >= 0; k--)
        if (q + k < n && BIT(self->all_heads, PyUnicode_READ(kind, data, q + k))) return q + k;
    return -1;
}

/* person._add: found[start] = (end, score) unless found holds a greater pair there. */
static int add_found(PyObject *found, Py_ssize_t start, Py_ssize_t end, double score) {
    PyObject *key = PyLong_FromSsize_t(start);
    if (key == NULL) return -1;
    PyObject *old = PyDict_GetItemWithError(found, key); /* borrowed */
    if (old == NULL && PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    }
    if (old != NULL) {
        int greater = 1;
        if (!PyTuple_Check(old) || PyTuple_GET_SIZE(old) != 2) {
            PyErr_SetString(PyExc_TypeError, "found: every value must be (end, score)");
            Py_DECREF(key);
            return -1;
        }
        Py_ssize_t old_end = PyLong_AsSsize_t(PyTuple_GET_ITEM(old, 0));
        double old_score = PyFloat_AsDouble(PyTuple_GET_ITEM(old, 1));
        if (PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
        greater = end > old_end || (end == old_end && score > old_score);
        if (!greater) {
            Py_DECREF(key);
            return 0;
        }
    }
    PyObject *value = Py_BuildValue("(nd)", end, score);
    int status = value == NULL ? -1 : PyDict_SetItem(found, key, value);
    Py_XDECREF(value);
    Py_DECREF(key);
    return status;
}

static int set_int(PyObject *dict, Py_ssize_t key, long value) {
    PyObject *k = PyLong_FromSsize_t(key), *v = PyLong_FromLong(value);
    int status = (k == NULL || v == NULL) ? -1 : PyDict_SetItem(dict, k, v);
    Py_XDECREF(k);
    Py_XDECREF(v);
    return status;
}

static int has_key(PyObject *container, Py_ssize_t key) {
    PyObject *k = PyLong_FromSsize_t(key);
    if (k == NULL) return -1;
    int found = PySequence_Contains(container, k);
    Py_DECREF(k);
    return found;
}

/* person.PersonDetector._names_from: names starting at p after a context word, then any listed
 * after them (借款人张三、李四和王五). */
static int names_from(const NameChecker *self, PyObject *text, int kind, const void *data, Py_ssize_t n,
                      Py_ssize_t p, PyObject *found) {
    for (int round = 0; round < 6; round++) {
        Py_ssize_t end;
        int bare;
        int hit = name_at_c(self, text, kind, data, n, p, &end, &bare);
        if (hit <= 0) return hit;
        if (add_found(found, p, end, bare ? 0.7 : 0.85) < 0) return -1;
        if (end >= n || bare) return 0;
        Py_UCS4 c = PyUnicode_READ(kind, data, end);
        if (!BIT(self->list_sep, c)) return 0;
        p = end + 1;
    }
    return 0;
}

/* person._name_before: 1 and the start and score of the name that ends right before a title at t,
 * 0 for none. */
static int name_before(const NameChecker *self, PyObject *text, int kind, const void *data, Py_ssize_t n,
                       Py_ssize_t t, Py_ssize_t *start, double *score) {
    Py_ssize_t starts[4];
    double scores[4];
    int options = 0;
    for (Py_ssize_t length = 4; length >= 1; length--) {
        Py_ssize_t s = t - length;
        if (s < 0) continue;
        int sl = surname_len(self, kind, data, n, s);
        if (!sl || length - sl < 0 || length - sl > 2) continue;
        int ok = 1;
        for (Py_ssize_t j = s + sl; ok && j < t; j++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, j);
            ok = IS_CJK(c) && !BIT(self->g1_stop, c);
        }
        if (!ok) continue;
        if (vetoed(self, text, kind, data, n, s, t)) continue;
        starts[options] = s;
        scores[options] = length == sl ? 0.7 : 0.85;
        options++;
    }
    for (int k = 0; k < options; k++) {
        Py_ssize_t s = starts[k];
        if (s > 0) {
            if (slice_in(&self->stop2, text, n, s - 1, s + 1)) continue;
        }
        if (BIT(self->function_surname, PyUnicode_READ(kind, data, s)) && s + 1 < t &&
            surname_len(self, kind, data, n, s + 1))
            continue;
        *start = s;
        *score = scores[k];
        return 1;
    }
    return 0;
}

/* The arguments of collect_context and collect_loose: text, found (a dict) and ``other`` (titled, a
 * set, or strict, a dict), and the text's characters. */
typedef struct {
    PyObject *text, *found, *other;
    int kind;
    const void *data;
    Py_ssize_t n;
} ScanArgs;

static int parse_scan_args(NameChecker *self, PyObject *const *args, Py_ssize_t nargs, const char *usage,
                           const char *other_name, int other_is_dict, ScanArgs *out) {
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "%s", usage);
        return -1;
    }
    if (!self->configured || !self->scans_configured || self->segmenter == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "NameChecker: configure_candidates() and configure_scans() first");
        return -1;
    }
    if (other_is_dict ? !PyDict_Check(args[2]) : !PySet_Check(args[2])) {
        PyErr_Format(PyExc_TypeError, "%s must be a %s", other_name, other_is_dict ? "dict" : "set");
        return -1;
    }
    out->text = args[0];
    out->found = args[1];
    out->other = args[2];
    out->kind = PyUnicode_KIND(args[0]);
    out->data = PyUnicode_DATA(args[0]);
    out->n = PyUnicode_GET_LENGTH(args[0]);
    return 0;
}

/* collect_context(text, found, titled): PersonDetector._after_context, then _before_titles. */
static PyObject *NameChecker_collect_context(NameChecker *self, PyObject *const *args, Py_ssize_t nargs) {
    ScanArgs a;
    if (parse_scan_args(self, args, nargs, "collect_context(text: str, found: dict, titled: set)",
                        "collect_context: titled", 0, &a) < 0)
        return NULL;
    PyObject *text = a.text, *found = a.found, *titled = a.other;
    int kind = a.kind;
    const void *data = a.data;
    Py_ssize_t n = a.n;
    /* _PREFIX_RE: a context word (the longest that works), separators, a surname character ahead */
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t next = i + 1;
        if (BIT(self->prefix_words.first, PyUnicode_READ(kind, data, i))) {
            for (Py_ssize_t length = self->prefix_words.maxlen; length >= 1; length--) {
                if (!word_at(&self->prefix_words, text, n, i, length)) continue;
                Py_ssize_t end = seps_then_head(self, kind, data, n, i + length);
                if (end < 0) continue;
                if (names_from(self, text, kind, data, n, end, found) < 0) return NULL;
                next = end;
                break;
            }
        }
        i = next;
    }
    /* _REN_RE: a role ending in 人, separators, a surname character ahead */
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t next = i + 1;
        if (PyUnicode_READ(kind, data, i) == 0x4EBA /* 人 */) {
            Py_ssize_t p = seps_then_head(self, kind, data, n, i + 1);
            if (p >= 0) {
                next = p;
                int skip = 0;
                if (p == i + 1) { /* 人 + a surname character that is an ordinary word (个人文件) */
                    skip = word_at(&self->ren_words, text, n, i, 2);
                    for (Py_ssize_t length = 1; skip && length <= self->ren_roles.maxlen && length <= p; length++) {
                        /* ... unless the 人 ends a role (借款人文薇) */
                        if (word_at(&self->ren_roles, text, n, p - length, length)) skip = 0;
                    }
                }
                if (!skip && names_from(self, text, kind, data, n, p, found) < 0) return NULL;
            }
        }
        i = next;
    }
    /* _TITLE_RE: the longest title at each place; the name or bare surname right before it */
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t next = i + 1;
        if (BIT(self->title_words.first, PyUnicode_READ(kind, data, i))) {
            for (Py_ssize_t length = self->title_words.maxlen; length >= 1; length--) {
                if (!word_at(&self->title_words, text, n, i, length)) continue;
                next = i + length;
                Py_ssize_t start;
                double score;
                if (name_before(self, text, kind, data, n, i, &start, &score)) {
                    int known = has_key(found, start);
                    if (known < 0) return NULL;
                    if (!known) {
                        PyObject *key = PyLong_FromSsize_t(start);
                        if (key == NULL) return NULL;
                        int status = PySet_Add(titled, key);
                        Py_DECREF(key);
                        if (status < 0) return NULL;
                    }
                    if (add_found(found, start, i, score) < 0) return NULL;
                }
                break;
            }
        }
        i = next;
    }
    Py_RETURN_NONE;
}

/* collect_loose(text, found, strict): PersonDetector._after_weak_context, then _standalone. */
static PyObject *NameChecker_collect_loose(NameChecker *self, PyObject *const *args, Py_ssize_t nargs) {
    ScanArgs a;
    if (parse_scan_args(self, args, nargs, "collect_loose(text: str, found: dict, strict: dict)",
                        "collect_loose: strict", 1, &a) < 0)
        return NULL;
    PyObject *text = a.text, *found = a.found, *strict = a.other;
    int kind = a.kind;
    const void *data = a.data;
    Py_ssize_t n = a.n;
    /* _WEAK_RE: a verb or relation (the longest that works), a surname character ahead */
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t next = i + 1;
        if (BIT(self->weak_words.first, PyUnicode_READ(kind, data, i))) {
            for (Py_ssize_t length = self->weak_words.maxlen; length >= 1; length--) {
                Py_ssize_t p = i + length;
                if (p >= n || !BIT(self->all_heads, PyUnicode_READ(kind, data, p))) continue;
                if (!word_at(&self->weak_words, text, n, i, length)) continue;
                next = p;
                int known = has_key(found, p);
                if (known < 0) return NULL;
                if (!known) {
                    Py_ssize_t end;
                    int bare;
                    int hit = name_at_c(self, text, kind, data, n, p, &end, &bare);
                    if (hit < 0) return NULL;
                    if (hit && !bare) {
                        /* one character (给, 向, 请) goes before any noun: 给牛群喂草 */
                        if (add_found(found, p, end, 0.75) < 0 || set_int(strict, p, length > 1 ? 1 : 2) < 0)
                            return NULL;
                    }
                }
                break;
            }
        }
        i = next;
    }
    /* _STANDALONE_RE: a surname character after no ideograph, one to three ideographs (as few as
     * will do) before a follower, a non-ideograph or the end */
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t next = i + 1;
        if (BIT(self->surname_heads, PyUnicode_READ(kind, data, i)) &&
            !(i > 0 && IS_CJK(PyUnicode_READ(kind, data, i - 1)))) {
            Py_ssize_t end = -1;
            for (Py_ssize_t k = 1; k <= 3; k++) {
                Py_ssize_t e = i + k + 1;
                if (e > n || !IS_CJK(PyUnicode_READ(kind, data, i + k))) break;
                int ahead = e == n || !IS_CJK(PyUnicode_READ(kind, data, e));
                if (!ahead) ahead = any_word_at(&self->name_followers, text, kind, data, n, e);
                if (ahead) {
                    end = e;
                    break;
                }
            }
            if (end >= 0) {
                next = end;
                Py_ssize_t p = i;
                int known = has_key(found, p);
                if (known < 0) return NULL;
                int sl = known ? 0 : surname_len(self, kind, data, n, p);
                Py_ssize_t given = end - p - sl;
                int ok = sl && given >= 1 && given <= 2;
                for (Py_ssize_t j = p + sl; ok && j < end; j++) ok = !BIT(self->g1_stop, PyUnicode_READ(kind, data, j));
                if (ok) {
                    ok = !vetoed(self, text, kind, data, n, p, end);
                }
                if (ok && p == 0) {
                    ok = any_word_at(&self->start_followers, text, kind, data, n, end);
                }
                if (ok && (add_found(found, p, end, given == 2 ? 0.75 : 0.65) < 0 || set_int(strict, p, 2) < 0))
                    return NULL;
            }
        }
        i = next;
    }
    Py_RETURN_NONE;
}

/* configure_scans(prefix_words, weak_words, title_words, name_followers, start_followers, ren_words,
 * ren_roles, all_heads, surname_heads, list_sep): person's tables for collect_context and
 * collect_loose. */
static PyObject *NameChecker_configure_scans(NameChecker *self, PyObject *args, PyObject *kwds) {
    PyObject *prefix, *weak, *titles, *followers, *start_followers, *ren_words, *ren_roles, *all_heads,
        *surname_heads, *list_sep;
    static char *names[] = {"prefix_words", "weak_words", "title_words", "name_followers", "start_followers",
                            "ren_words", "ren_roles", "all_heads", "surname_heads", "list_sep", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOOO:configure_scans", names, &prefix, &weak, &titles,
                                     &followers, &start_followers, &ren_words, &ren_roles, &all_heads,
                                     &surname_heads, &list_sep))
        return NULL;
    self->scans_configured = 0;
    if (fill_wordset(&self->prefix_words, prefix, "prefix_words") < 0 ||
        fill_wordset(&self->weak_words, weak, "weak_words") < 0 ||
        fill_wordset(&self->title_words, titles, "title_words") < 0 ||
        fill_wordset(&self->name_followers, followers, "name_followers") < 0 ||
        fill_wordset(&self->start_followers, start_followers, "start_followers") < 0 ||
        fill_wordset(&self->ren_words, ren_words, "ren_words") < 0 ||
        fill_wordset(&self->ren_roles, ren_roles, "ren_roles") < 0 ||
        fill_bitmap(all_heads, self->all_heads, "all_heads") < 0 ||
        fill_bitmap(surname_heads, self->surname_heads, "surname_heads") < 0 ||
        fill_bitmap(list_sep, self->list_sep, "list_sep") < 0)
        return NULL;
    self->scans_configured = 1;
    Py_RETURN_NONE;
}

static PyMethodDef NameChecker_methods[] = {
    {"configure_candidates", (PyCFunction)(void (*)(void))NameChecker_configure, METH_VARARGS | METH_KEYWORDS,
     "configure_candidates(titles, followers, stop_exact, stop2, stop3, g1_stop, g2_stop, function_surnames): "
     "the tables name_at needs (person.py's)."},
    {"name_at", (PyCFunction)(void (*)(void))NameChecker_name_at, METH_FASTCALL,
     "name_at(text, p) -> (end, bare) | None: person.name_at."},
    {"configure_scans", (PyCFunction)(void (*)(void))NameChecker_configure_scans, METH_VARARGS | METH_KEYWORDS,
     "configure_scans(prefix_words, weak_words, title_words, name_followers, start_followers, ren_words, "
     "ren_roles, all_heads, surname_heads, list_sep): the tables collect_context and collect_loose need."},
    {"resolve", (PyCFunction)(void (*)(void))NameChecker_resolve, METH_FASTCALL,
     "resolve(text, found, strict, titled, minority, span_type, pii_type, detector) -> list: "
     "PersonDetector._resolve, the spans of the candidates that pass the check."},
    {"collect_context", (PyCFunction)(void (*)(void))NameChecker_collect_context, METH_FASTCALL,
     "collect_context(text, found, titled): PersonDetector._after_context then _before_titles, into found "
     "and titled."},
    {"collect_loose", (PyCFunction)(void (*)(void))NameChecker_collect_loose, METH_FASTCALL,
     "collect_loose(text, found, strict): PersonDetector._after_weak_context then _standalone, into found "
     "and strict."},
    {"check_name", (PyCFunction)(void (*)(void))NameChecker_check_name, METH_FASTCALL,
     "check_name(text, start, end, strict, titled) -> int | None: the end of the name text[start:end] "
     "after the dictionary check, or None (person._check_name)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject NameCheckerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stockade.privacy.detectors._segment.NameChecker",
    .tp_basicsize = sizeof(NameChecker),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "NameChecker(segmenter, word, given_counts, surnames, compound_surnames, given_name_chars): "
              "the name detector's dictionary check of a candidate.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)NameChecker_init,
    .tp_dealloc = (destructor)NameChecker_dealloc,
    .tp_methods = NameChecker_methods,
};

/* ---- identifiers written in groups (grouped.GroupedNumberDetector) ---- */

#define MAX_GROUPS 12

static int is_digit_ascii(Py_UCS4 c) { return c >= '0' && c <= '9'; }

/* Whether ``digits`` (n characters from ``at``, runs of groups joined) can be anything the detector's
 * _classify accepts: a GB 11643 check character that matches, or all digits and a Luhn-valid card
 * length, or all digits of a phone number's length for a whole run. A necessary condition only:
 * _classify (Python) decides for the candidates that pass. */
static int may_classify(const Py_UCS4 *digits, int n, int whole) {
    int all_digits = 1;
    for (int k = 0; k < n; k++) all_digits &= is_digit_ascii(digits[k]);
    if (n == 18) {
        static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
        int first17 = 1, total = 0;
        for (int k = 0; k < 17; k++) {
            first17 &= is_digit_ascii(digits[k]);
            total += (int)(digits[k] - '0') * weights[k];
        }
        if (first17) {
            Py_UCS4 last = digits[17] == 'x' ? 'X' : digits[17];
            if ("10X98765432"[total % 11] == (char)last) return 1;
        }
    }
    if (!all_digits) return 0;
    if (n >= 16 && n <= 19) {
        int total = 0;
        for (int k = 0; k < n; k++) {
            int d = (int)(digits[n - 1 - k] - '0');
            if (k % 2) {
                d *= 2;
                if (d > 9) d -= 9;
            }
            total += d;
        }
        if (total % 10 == 0) return 1;
    }
    return whole && n >= 10 && n <= 13;
}

/* grouped_candidates(text, start, end) -> list[(start, end, digits, whole, parts)]: the slices of whole
 * digit groups of the run text[start:end] that GroupedNumberDetector tries (grouped._candidates_python,
 * in the same order), less those _classify would refuse anyway (may_classify). */
static PyObject *grouped_candidates(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "grouped_candidates(text: str, start, end)");
        return NULL;
    }
    PyObject *text = args[0];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred()) return NULL;
    if (start < 0 || end < start || end > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_IndexError, "grouped_candidates: need 0 <= start <= end <= len(text)");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    if (end - start < 11) return out;
    /* the groups (digits, and X or x) and where each starts and ends */
    Py_ssize_t group_start[MAX_GROUPS + 1], group_len[MAX_GROUPS + 1];
    int count = 0, comma_or_dot = 0;
    Py_ssize_t at = start;
    while (at < end) {
        Py_UCS4 c = PyUnicode_READ(kind, data, at);
        int in_group = is_digit_ascii(c) || c == 'X' || c == 'x';
        if (!in_group) {
            comma_or_dot |= c == ',' || c == 0xFF0C || c == '.'; /* , ， . */
            at++;
            continue;
        }
        if (count == MAX_GROUPS) return out; /* more than twelve groups: not an identifier */
        group_start[count] = at;
        while (at < end) {
            c = PyUnicode_READ(kind, data, at);
            if (!(is_digit_ascii(c) || c == 'X' || c == 'x')) break;
            at++;
        }
        group_len[count] = at - group_start[count];
        count++;
    }
    if (count == 0) return out;
    /* 1,234,567: an amount (grouped._thousands) */
    if (group_len[0] <= 3) {
        int threes = 0;
        for (int k = 0; k < count; k++) threes += group_len[k] == 3;
        if (threes == count - (group_len[0] != 3) && comma_or_dot) return out;
    }
    Py_ssize_t rest = 0;
    for (int k = 0; k < count; k++) rest += group_len[k];
    int country_code = (group_len[0] == 2 && PyUnicode_READ(kind, data, group_start[0]) == '8' &&
                        PyUnicode_READ(kind, data, group_start[0] + 1) == '6') ||
                       (group_len[0] == 4 && PyUnicode_READ(kind, data, group_start[0]) == '0' &&
                        PyUnicode_READ(kind, data, group_start[0] + 1) == '0' &&
                        PyUnicode_READ(kind, data, group_start[0] + 2) == '8' &&
                        PyUnicode_READ(kind, data, group_start[0] + 3) == '6');
    int last = count - 1;
    Py_UCS4 digits[19 + 12];
    for (int i = 0; i < count; i++) {
        if (i && rest < 16 && (i > 1 || !country_code)) break;
        rest -= group_len[i];
        Py_ssize_t n = group_len[i];
        if (n > 12) continue;
        int may_be_whole = i == 0 || (i == 1 && country_code);
        for (int j = i + 1; j < count; j++) {
            if (group_len[j] > 12) break;
            n += group_len[j];
            if (n > 19) break;
            if (n < 16 && (n < 10 || j != last || !may_be_whole)) continue;
            int whole = j == last && may_be_whole;
            int length = 0;
            for (int k = i; k <= j; k++)
                for (Py_ssize_t q = 0; q < group_len[k]; q++)
                    digits[length++] = PyUnicode_READ(kind, data, group_start[k] + q);
            if (!may_classify(digits, length, whole)) continue;
            PyObject *joined = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, digits, length);
            if (joined == NULL) goto fail;
            PyObject *item = Py_BuildValue("(nnNOi)", group_start[i], group_start[j] + group_len[j], joined,
                                           whole ? Py_True : Py_False, j - i + 1);
            if (item == NULL || PyList_Append(out, item) < 0) {
                Py_XDECREF(item);
                goto fail;
            }
            Py_DECREF(item);
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ---- the normalised view (_base.fold_fullwidth) ---- */

/* _base._FOLD_TABLE: full-width digits and letters, ＠．－＋ and the ideographic space to ASCII. */
static inline Py_UCS4 fold_char(Py_UCS4 c) {
    if ((c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A) ||
        c == 0xFF20 || c == 0xFF0E || c == 0xFF0D || c == 0xFF0B)
        return c - 0xFEE0;
    return c == 0x3000 ? ' ' : c;
}

/* A new str of ``n`` characters from ``chars`` (compact, of the smallest kind: as Python builds it). */
static PyObject *string_of(const Py_UCS4 *chars, Py_ssize_t n) {
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, chars, n);
}

/* fold_chars(text) -> str: text.translate(_base._FOLD_TABLE). */
static PyObject *fold_chars(PyObject *module, PyObject *text) {
    (void)module;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *out = PyUnicode_AsUCS4Copy(text);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) out[i] = fold_char(out[i]);
    PyObject *result = string_of(out, n);
    PyMem_Free(out);
    return result;
}

/* Spoken digits (_base.SPOKEN_DIGITS) and what _base._NUMERAL_TABLE makes of them and of 十百千叉. */
static int spoken_digit(Py_UCS4 c) {
    switch (c) {
    case 0x3007: case 0x96F6: return '0';                  /* 〇 零 */
    case 0x4E00: return '1'; case 0x4E8C: return '2';      /* 一 二 */
    case 0x4E09: return '3'; case 0x56DB: return '4';      /* 三 四 */
    case 0x4E94: return '5'; case 0x516D: return '6';      /* 五 六 */
    case 0x4E03: return '7'; case 0x516B: return '8';      /* 七 八 */
    case 0x4E5D: return '9'; case 0x5E7A: return '1';      /* 九 幺 */
    case 0x4E24: return '2';                               /* 两 */
    default: return 0;
    }
}

static int numeral(Py_UCS4 c) { /* spoken digits and 十百千 */
    if (spoken_digit(c)) return spoken_digit(c);
    return c == 0x5341 ? '1' : (c == 0x767E || c == 0x5343) ? '0' : 0; /* 十 百 千 */
}

static int spoken_sep(Py_UCS4 c) { /* _base._SPOKEN_SEP: [ ,，、\-－—\u3000] */
    return c == ' ' || c == ',' || c == 0xFF0C || c == 0x3001 || c == '-' || c == 0xFF0D || c == 0x2014 ||
           c == 0x3000;
}

static int unit_at(const Py_UCS4 *t, Py_ssize_t n, Py_ssize_t i) { /* (?=号|栋|幢|单元|室|楼|层|组|弄|户) */
    if (i >= n) return 0;
    switch (t[i]) {
    case 0x53F7: case 0x680B: case 0x5E62: case 0x5BA4: case 0x697C: case 0x5C42: case 0x7EC4: case 0x5F04:
    case 0x6237:
        return 1;
    case 0x5355: /* 单元 */
        return i + 1 < n && t[i + 1] == 0x5143;
    default:
        return 0;
    }
}

/* fold_numerals(text) -> str: _base._NUMERAL_RUN_RE.sub(_base._numerals_to_digits, text), the regex's
 * leftmost-first matches worked out by hand (tests hold the two to each other):
 *   1. (?:[S]+SEP)*[S]{3,}(?:SEP[S]+)*叉? -- at a spoken digit, the chain of groups of spoken digits
 *      joined by one separator each; it matches, to the chain's end (and a 叉 right after), when a
 *      group of the chain has three digits or more (the greedy prefix backs off to that group);
 *   2. [S十百千]+(?=unit) -- the run of numerals, when a unit follows it (shorter runs are followed
 *      by a numeral, never a unit).
 * Where 1 fails at a place it fails at every later place of the same chain, and 2 likewise within
 * its run, so each is skipped there (linear time). */
static PyObject *fold_numerals(PyObject *module, PyObject *text) {
    (void)module;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *t = PyUnicode_AsUCS4Copy(text);
    if (t == NULL) return NULL;
    Py_ssize_t chain_fails_before = 0, run_fails_before = 0;
    Py_ssize_t p = 0;
    while (p < n) {
        Py_ssize_t end = -1;
        if (spoken_digit(t[p]) && p >= chain_fails_before) {
            Py_ssize_t i = p;
            int long_group = 0;
            for (;;) {
                Py_ssize_t g = i;
                while (i < n && spoken_digit(t[i])) i++;
                long_group |= i - g >= 3;
                if (i + 1 < n && spoken_sep(t[i]) && spoken_digit(t[i + 1])) {
                    i++;
                    continue;
                }
                break;
            }
            if (long_group)
                end = (i < n && t[i] == 0x53C9) ? i + 1 : i; /* 叉 */
            else
                chain_fails_before = i;
        }
        if (end < 0 && numeral(t[p]) && p >= run_fails_before) {
            Py_ssize_t i = p;
            while (i < n && numeral(t[i])) i++;
            if (unit_at(t, n, i))
                end = i;
            else
                run_fails_before = i;
        }
        if (end < 0) {
            p++;
            continue;
        }
        for (Py_ssize_t i = p; i < end; i++) {
            int digit = numeral(t[i]);
            if (digit)
                t[i] = (Py_UCS4)digit;
            else if (t[i] == 0x53C9)
                t[i] = 'X';
        }
        p = end;
    }
    PyObject *result = string_of(t, n);
    PyMem_Free(t);
    return result;
}

/* ---- record-level consistency: the search of record.spread_values (record._spread_values_python) ---- */

/* The start and end of a span (a tuple whose first two items are ints), or -1 with an exception. */
static int span_bounds(PyObject *span, Py_ssize_t *start, Py_ssize_t *end) {
    if (!PyTuple_Check(span) || PyTuple_GET_SIZE(span) < 2) {
        PyErr_SetString(PyExc_TypeError, "record_extras: each span must be a tuple (start, end, ...)");
        return -1;
    }
    *start = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
    if (*start == -1 && PyErr_Occurred()) return -1;
    *end = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1));
    if (*end == -1 && PyErr_Occurred()) return -1;
    if (*start < 0 || *end < *start) {
        PyErr_SetString(PyExc_ValueError, "record_extras: a span needs 0 <= start <= end");
        return -1;
    }
    return 0;
}

/* The extra occurrences in ``text`` (found: its spans) of each of ``ordered`` (values by length,
 * longest first): (start, end, the value's first span) for each place find() reaches that no span of
 * the text covers; appended to *extras (created on first use). 0, or -1 with an exception. */
static int extras_of(PyObject *text, PyObject *found, PyObject *ordered, PyObject *values, PyObject **extras) {
    Py_ssize_t nfound = PyList_GET_SIZE(found);
    Py_ssize_t *bounds = PyMem_Malloc(sizeof(Py_ssize_t) * 2 * (nfound ? nfound : 1));
    if (bounds == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < nfound; k++)
        if (span_bounds(PyList_GET_ITEM(found, k), &bounds[2 * k], &bounds[2 * k + 1]) < 0) goto fail;
    Py_ssize_t count = PyList_GET_SIZE(ordered);
    for (Py_ssize_t v = 0; v < count; v++) {
        PyObject *value = PyList_GET_ITEM(ordered, v);
        Py_ssize_t size = PyUnicode_GET_LENGTH(value);
        Py_ssize_t at = PyUnicode_Find(text, value, 0, PY_SSIZE_T_MAX, 1);
        while (at >= 0) {
            Py_ssize_t end = at + size;
            int covered = 0; /* an exact span is covered too */
            for (Py_ssize_t k = 0; k < nfound && !covered; k++)
                covered = bounds[2 * k] <= at && end <= bounds[2 * k + 1];
            if (!covered) {
                if (*extras == NULL && (*extras = PyList_New(0)) == NULL) goto fail;
                PyObject *origin = PyDict_GetItemWithError(values, value); /* borrowed */
                if (origin == NULL) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "record_extras: value lost");
                    goto fail;
                }
                PyObject *item = Py_BuildValue("(nnO)", at, end, origin);
                if (item == NULL || PyList_Append(*extras, item) < 0) {
                    Py_XDECREF(item);
                    goto fail;
                }
                Py_DECREF(item);
            }
            at = PyUnicode_Find(text, value, end, PY_SSIZE_T_MAX, 1);
        }
        if (at == -2) goto fail;
    }
    PyMem_Free(bounds);
    return 0;
fail:
    PyMem_Free(bounds);
    return -1;
}

/* record_extras(texts, spans, min_length) -> None | list[None | list[(start, end, origin)]]: for
 * record.spread_values, every value (a string that a span covers, min_length characters or more) and
 * each place of another occurrence of it in the record's texts; None when no span has such a value. */
static PyObject *record_extras(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "record_extras(texts, spans, min_length) takes 3 arguments");
        return NULL;
    }
    PyObject *texts = args[0], *spans = args[1];
    Py_ssize_t min_length = PyLong_AsSsize_t(args[2]);
    if (min_length == -1 && PyErr_Occurred()) return NULL;
    if (min_length < 1) {
        PyErr_SetString(PyExc_ValueError, "record_extras: min_length must be at least 1");
        return NULL;
    }
    if (!PyList_Check(texts) || !PyList_Check(spans)) {
        PyErr_SetString(PyExc_TypeError, "record_extras: texts and spans must be lists");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(texts);
    if (PyList_GET_SIZE(spans) != count) {
        PyErr_SetString(PyExc_ValueError, "record_extras: one list of spans per text");
        return NULL;
    }
    PyObject *values = PyDict_New(), *ordered = NULL, *result = NULL;
    if (values == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i), *found = PyList_GET_ITEM(spans, i);
        if (!PyUnicode_Check(text) || !PyList_Check(found)) {
            PyErr_SetString(PyExc_TypeError, "record_extras: texts are str, spans lists of spans");
            goto done;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(found); k++) {
            PyObject *span = PyList_GET_ITEM(found, k);
            Py_ssize_t start, end;
            if (span_bounds(span, &start, &end) < 0) goto done;
            if (end > n) end = n; /* as a slice would */
            if (start > end) start = end;
            if (end - start < min_length) continue;
            PyObject *value = PyUnicode_Substring(text, start, end);
            if (value == NULL) goto done;
            PyObject *kept = PyDict_SetDefault(values, value, span); /* the first span of each value */
            Py_DECREF(value);
            if (kept == NULL) goto done;
        }
    }
    if (PyDict_GET_SIZE(values) == 0) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    /* sorted(values, key=len, reverse=True): longer values first, ties in first-seen order */
    ordered = PyDict_Keys(values);
    if (ordered == NULL) goto done;
    {
        PyObject *len = PyDict_GetItemString(PyEval_GetBuiltins(), "len"); /* borrowed */
        PyObject *sort = PyObject_GetAttrString(ordered, "sort");
        PyObject *kwargs = len == NULL ? NULL : Py_BuildValue("{s:O,s:O}", "key", len, "reverse", Py_True);
        PyObject *empty = PyTuple_New(0);
        PyObject *sorted = (sort && kwargs && empty) ? PyObject_Call(sort, empty, kwargs) : NULL;
        if (len == NULL && !PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "record_extras: no len()");
        Py_XDECREF(sort);
        Py_XDECREF(kwargs);
        Py_XDECREF(empty);
        if (sorted == NULL) goto done;
        Py_DECREF(sorted);
    }
    result = PyList_New(count);
    if (result == NULL) goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *extras = NULL;
        if (extras_of(PyList_GET_ITEM(texts, i), PyList_GET_ITEM(spans, i), ordered, values, &extras) < 0) {
            Py_XDECREF(extras);
            Py_CLEAR(result);
            goto done;
        }
        if (extras == NULL) {
            extras = Py_None;
            Py_INCREF(extras);
        }
        PyList_SET_ITEM(result, i, extras);
    }
done:
    Py_DECREF(values);
    Py_XDECREF(ordered);
    return result;
}

static PyMethodDef module_functions[] = {
    {"fold_chars", (PyCFunction)fold_chars, METH_O, "fold_chars(text) -> str: text.translate(_base._FOLD_TABLE)."},
    {"fold_numerals", (PyCFunction)fold_numerals, METH_O,
     "fold_numerals(text) -> str: _base._NUMERAL_RUN_RE.sub(_base._numerals_to_digits, text)."},
    {"grouped_candidates", (PyCFunction)(void (*)(void))grouped_candidates, METH_FASTCALL,
     "grouped_candidates(text, start, end) -> list[(start, end, digits, whole, parts)]: see "
     "grouped._candidates_python."},
    {"record_extras", (PyCFunction)(void (*)(void))record_extras, METH_FASTCALL,
     "record_extras(texts, spans, min_length) -> None | list[None | list[(start, end, origin)]]: the "
     "search of record._spread_values_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef segment_module = {
    PyModuleDef_HEAD_INIT,
    "_segment",
    "The name detector's word-boundary search in C (optional; lexicon.py has the same in Python).",
    -1,
    module_functions,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__segment(void) {
    if (PyType_Ready(&SegmenterType) < 0 || PyType_Ready(&NameCheckerType) < 0) return NULL;
    PyObject *module = PyModule_Create(&segment_module);
    if (module == NULL) return NULL;
    Py_INCREF(&SegmenterType);
    if (PyModule_AddObject(module, "Segmenter", (PyObject *)&SegmenterType) < 0) {
        Py_DECREF(&SegmenterType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "FORMAT", 3) < 0) { /* of Segmenter.dump's bytes */
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&NameCheckerType);
    if (PyModule_AddObject(module, "NameChecker", (PyObject *)&NameCheckerType) < 0) {
        Py_DECREF(&NameCheckerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
