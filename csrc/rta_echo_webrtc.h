/*
 * The C face of libwebrtc-audio-processing 0.3's echo canceller (webrtc::AudioProcessing is C++). Used by
 * rta_echo.c only. One 10 ms block per call, mono int16, mic in place. No exceptions cross this boundary.
 */
#ifndef RTA_ECHO_WEBRTC_H
#define RTA_ECHO_WEBRTC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_webrtc_aec rta_webrtc_aec;

/* NULL when the library refuses the rate or memory runs out. */
rta_webrtc_aec *rta_webrtc_aec_create(int rate);
void rta_webrtc_aec_destroy(rta_webrtc_aec *aec);
/* ref: the block the speaker played (already aligned); mic: the block heard, cancelled in place. 0 on success. */
int rta_webrtc_aec_process(rta_webrtc_aec *aec, const int16_t *ref, int16_t *mic);

#ifdef __cplusplus
}
#endif
#endif /* RTA_ECHO_WEBRTC_H */
