/*
 * stockade.privacy.detectors._segment: the name detector's word-boundary search in C.
 *
 * Written by hand because no library does this exact job: jieba's maximum-probability path
 * (``jieba.cut(HMM=False)``) over a window of a dozen characters around each name candidate, the
 * question the name detector asks thousands of times per megabyte of bank text. The Python version
 * (``lexicon._boundary_list_python``) is the reference: tests hold this one to it, and to
 * ``jieba.cut`` itself, and it is what runs where this module was not built (it is optional).
 *
 * The tables are the lexicon's own (``lexicon._build``), copied once per process into plain C hash
 * tables keyed by code points, so a look-up allocates no Python string. Scores are the same IEEE
 * doubles added in the same order as in Python (built with -ffp-contract=off), so every comparison,
 * ties included, comes out the same.
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

typedef struct {
    PyObject_HEAD
    double single[CJK_COUNT];
    PairSlot *pairs;
    size_t pair_mask;
    WordSlot *words;
    size_t word_mask;
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
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Segmenter(single, pairs, logp, starts3): the lexicon's tables (see lexicon._build). */
static int Segmenter_init(Segmenter *self, PyObject *args, PyObject *kwds) {
    PyObject *single, *pairs, *logp, *starts3;
    static char *names[] = {"single", "pairs", "logp", "starts3", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!O:Segmenter", names, &PyDict_Type, &single,
                                     &PyDict_Type, &pairs, &PyDict_Type, &logp, &starts3))
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
    return 0;
}

/* Append to ``out`` the boundaries (offset ``base``) of the best path through ``run[0:n]``, n >= 2
 * ideographs: the same recurrence, in the same order, as lexicon._best_path. */
static int best_path(const Segmenter *self, const Py_UCS4 *run, Py_ssize_t n, Py_ssize_t base,
                     PyObject *out) {
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
        PyObject *at = PyLong_FromSsize_t(base + i);
        if (at == NULL || PyList_Append(out, at) < 0) {
            Py_XDECREF(at);
            status = -1;
            break;
        }
        Py_DECREF(at);
    }
    if (best != best_stack) {
        PyMem_Free(best);
        PyMem_Free(step);
    }
    return status;
}

static int append_int(PyObject *out, Py_ssize_t value) {
    PyObject *at = PyLong_FromSsize_t(value);
    if (at == NULL) return -1;
    int status = PyList_Append(out, at);
    Py_DECREF(at);
    return status;
}

/* boundary_list(text, lo, hi): see lexicon.boundary_list. */
static PyObject *Segmenter_boundary_list(Segmenter *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "boundary_list(text, lo, hi) takes 3 arguments");
        return NULL;
    }
    if (self->pairs == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Segmenter is not initialised");
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t lo = PyLong_AsSsize_t(args[1]);
    if (lo == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t hi = PyLong_AsSsize_t(args[2]);
    if (hi == -1 && PyErr_Occurred()) return NULL;
    if (lo >= hi) { /* sorted({lo, hi}) */
        if (lo == hi) return Py_BuildValue("[n]", lo);
        return Py_BuildValue("[nn]", hi, lo);
    }
    if (lo < 0 || hi > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_IndexError, "boundary_list: lo and hi must lie within the text");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    if (append_int(out, lo) < 0) goto fail;
    Py_UCS4 run_stack[64];
    Py_UCS4 *run = run_stack;
    Py_ssize_t capacity = 64;
    Py_ssize_t start = lo;
    while (start < hi) {
        /* characters other than ideographs: a boundary after each */
        while (start < hi && !IS_CJK(PyUnicode_READ(kind, data, start))) {
            start++;
            if (append_int(out, start) < 0) goto fail_run;
        }
        Py_ssize_t end = start;
        while (end < hi && IS_CJK(PyUnicode_READ(kind, data, end))) end++;
        Py_ssize_t n = end - start;
        if (n > 1) {
            if (n > capacity) {
                Py_UCS4 *bigger = PyMem_Malloc((size_t)n * sizeof(Py_UCS4));
                if (bigger == NULL) {
                    PyErr_NoMemory();
                    goto fail_run;
                }
                if (run != run_stack) PyMem_Free(run);
                run = bigger;
                capacity = n;
            }
            for (Py_ssize_t j = 0; j < n; j++) run[j] = PyUnicode_READ(kind, data, start + j);
            if (best_path(self, run, n, start, out) < 0) goto fail_run;
        } else if (n == 1) {
            if (append_int(out, end) < 0) goto fail_run;
        }
        start = end;
    }
    if (run != run_stack) PyMem_Free(run);
    return out;
fail_run:
    if (run != run_stack) PyMem_Free(run);
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef Segmenter_methods[] = {
    {"boundary_list", (PyCFunction)(void (*)(void))Segmenter_boundary_list, METH_FASTCALL,
     "boundary_list(text, lo, hi) -> list[int]: jieba's word boundaries in text[lo:hi], sorted, "
     "the ends included (lexicon.boundary_list)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SegmenterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "stockade.privacy.detectors._segment.Segmenter",
    .tp_basicsize = sizeof(Segmenter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Segmenter(single, pairs, logp, starts3): jieba's dictionary segmenter over short windows.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Segmenter_init,
    .tp_dealloc = (destructor)Segmenter_dealloc,
    .tp_methods = Segmenter_methods,
};

static struct PyModuleDef segment_module = {
    PyModuleDef_HEAD_INIT,
    "_segment",
    "The name detector's word-boundary search in C (optional; lexicon.py has the same in Python).",
    -1,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__segment(void) {
    if (PyType_Ready(&SegmenterType) < 0) return NULL;
    PyObject *module = PyModule_Create(&segment_module);
    if (module == NULL) return NULL;
    Py_INCREF(&SegmenterType);
    if (PyModule_AddObject(module, "Segmenter", (PyObject *)&SegmenterType) < 0) {
        Py_DECREF(&SegmenterType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
