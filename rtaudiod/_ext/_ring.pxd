from rtaudiod._ext.rta_ring cimport rta_region, rta_ring


cdef class RingBuffer:
    cdef rta_ring *_ring
    cdef object _storage
    cdef Py_buffer _buf
    cdef char *_base
    cdef size_t _size

    cdef tuple _views(self, rta_region *reg)
    cdef int _check_wait(self, Py_ssize_t nbytes) except -1
    cdef int _wait_for_data(self, Py_ssize_t nbytes, object timeout) except -1
