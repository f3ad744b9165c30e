from rtaudiod._ext.rta_echo cimport rta_echo


cdef class EchoCanceller:
    cdef rta_echo *_echo
    cdef readonly int rate
    cdef readonly str engine
    cdef readonly size_t block_frames
