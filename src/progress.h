/* progress.h -- §五(二): the programme's timeline milestones (plans, the 2016 pilots,
 * 示范版 by 2017 Q1/Q2, 提升版 and 基础版 by 2017-12, acceptance) measured per town and
 * for the district against estate tiers, stages and dates, as of any date. */
#ifndef ESTATEMAP_PROGRESS_H
#define ESTATEMAP_PROGRESS_H

#include "analysis.h"

extern const em_analysis em_analysis_progress;

#endif
